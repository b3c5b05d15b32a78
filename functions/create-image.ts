/** Deploy task: create the image from the stopped builder. */
import { createImage } from "../core/deploy/bake.ts";
import { deployStateSchema } from "../core/deploy/state.ts";
import { kilnHandler } from "./kiln-handler.ts";
import * as wire from "./wiring.ts";

const deps = { history: wire.history(), images: wire.images() };

export const handler = kilnHandler("createImage", deployStateSchema, (state) => createImage(deps, state));
