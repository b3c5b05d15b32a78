/** Deploy task: read the instance refresh's progress. */
import { checkRefresh } from "../core/deploy/roll.ts";
import { deployStateSchema } from "../core/deploy/state.ts";
import { kilnHandler } from "./kiln-handler.ts";
import * as wire from "./wiring.ts";

const deps = { history: wire.history(), groups: wire.groups() };

export const handler = kilnHandler("checkRefresh", deployStateSchema, (state) => checkRefresh(deps, state));
