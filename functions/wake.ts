/**
 * EC2 and Auto Scaling events (workflows/event-rules.ts): when a deploy workflow waits on the
 * instance, image or instance refresh an event is about, check whether its wait is over and
 * resume it (core/deploy/watch.ts). Events about anything else are ignored.
 */
import { awsEventSchema, wake } from "../core/deploy/watch.ts";
import { kilnHandler } from "./kiln-handler.ts";
import { logger } from "./observability.ts";
import * as wire from "./wiring.ts";

const deps = wire.watchDeps();

export const handler = kilnHandler("wake", awsEventSchema, async (event) => {
  const outcome = await wake(deps, event);
  logger.info("event handled", { detailType: event["detail-type"], ...outcome });
  return outcome;
});
