/** Deploy task: start the group's instance refresh towards the exact new version. */
import { startRefresh } from "../core/deploy/roll.ts";
import { deployStateSchema } from "../core/deploy/state.ts";
import { kilnHandler } from "./kiln-handler.ts";
import * as wire from "./wiring.ts";

const deps = { history: wire.history(), groups: wire.groups() };

export const handler = kilnHandler("startRefresh", deployStateSchema, (state) => startRefresh(deps, state));
