/** Deploy task: record the terminal status and error of a failed deployment. */
import { recordFailure } from "../core/deploy/conclude.ts";
import { deployStateSchema } from "../core/deploy/state.ts";
import { kilnHandler } from "./kiln-handler.ts";
import * as wire from "./wiring.ts";

const deps = { history: wire.history() };

export const handler = kilnHandler("recordOutcome", deployStateSchema, async (state) => {
  const deployment = await recordFailure(deps, state);
  return { status: deployment.status };
});
