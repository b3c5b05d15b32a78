/** Deploy task: launch one canary instance from the new image. */
import { launchCanary } from "../core/deploy/canary.ts";
import { deployStateSchema } from "../core/deploy/state.ts";
import { kilnHandler } from "./kiln-handler.ts";
import * as wire from "./wiring.ts";

const deps = { history: wire.history(), fleet: wire.fleet(), groups: wire.groups(), clock: wire.clock() };

export const handler = kilnHandler("launchCanary", deployStateSchema, (state) => launchCanary(deps, state));
