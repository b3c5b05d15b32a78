/** Deploy task: create the launch template version pinned to the new image. */
import { createTemplateVersion } from "../core/deploy/roll.ts";
import { deployStateSchema } from "../core/deploy/state.ts";
import { kilnHandler } from "./kiln-handler.ts";
import * as wire from "./wiring.ts";

const deps = { history: wire.history(), groups: wire.groups() };

export const handler = kilnHandler("createTemplateVersion", deployStateSchema, (state) =>
  createTemplateVersion(deps, state),
);
