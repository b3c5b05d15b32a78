/** Deploy task: make the group run a numbered template version, kept for rollback. */
import { pinGroupVersion } from "../core/deploy/roll.ts";
import { deployStateSchema } from "../core/deploy/state.ts";
import { kilnHandler } from "./kiln-handler.ts";
import * as wire from "./wiring.ts";

const deps = { history: wire.history(), groups: wire.groups() };

export const handler = kilnHandler("pinGroupVersion", deployStateSchema, (state) =>
  pinGroupVersion(deps, state),
);
