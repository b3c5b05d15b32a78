/** Deploy task: read the builder's bake verdict. */
import { checkBuilder } from "../core/deploy/bake.ts";
import { deployStateSchema } from "../core/deploy/state.ts";
import { kilnHandler } from "./kiln-handler.ts";
import * as wire from "./wiring.ts";

const deps = { fleet: wire.fleet(), clock: wire.clock() };

export const handler = kilnHandler("checkBuilder", deployStateSchema, (state) => checkBuilder(deps, state));
