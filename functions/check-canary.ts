/** Deploy task: probe the canary's health endpoint once. */
import { checkCanary } from "../core/deploy/canary.ts";
import { deployStateSchema } from "../core/deploy/state.ts";
import { kilnHandler } from "./kiln-handler.ts";
import * as wire from "./wiring.ts";

const deps = { history: wire.history(), fleet: wire.fleet(), probe: wire.probe(), clock: wire.clock() };

export const handler = kilnHandler("checkCanary", deployStateSchema, (state) => checkCanary(deps, state));
