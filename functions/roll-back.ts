/** Deploy task: return the group to the template version it ran before. */
import { rollBack } from "../core/deploy/roll.ts";
import { deployStateSchema } from "../core/deploy/state.ts";
import { kilnHandler } from "./kiln-handler.ts";
import * as wire from "./wiring.ts";

const deps = { groups: wire.groups() };

export const handler = kilnHandler("rollBack", deployStateSchema, (state) => rollBack(deps, state));
