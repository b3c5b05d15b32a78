/** The one place functions get their logger from; every line carries the deployment it concerns. */
import { Logger } from "@aws-lambda-powertools/logger";

export const logger = new Logger({ serviceName: "kiln" });

/** Powertools reserves `service` for the logger's own name, so a deployment's service is `kilnService`. */
const correlationKeys = { deploymentId: "deploymentId", service: "kilnService" } as const;

/** The ids worth putting on every log line of an invocation, from whatever the event holds. */
export function correlationOf(event: unknown): Record<string, string> {
  if (typeof event !== "object" || event === null) return {};
  const fields: Record<string, string> = {};
  // A callback task's payload carries the workflow's state under `state`.
  const nested =
    "state" in event && typeof event.state === "object" && event.state !== null ? event.state : {};
  const source: Record<string, unknown> = { ...nested, ...event };
  for (const [key, field] of Object.entries(correlationKeys))
    if (typeof source[key] === "string") fields[field] = source[key];
  const image = source.image;
  if (typeof image === "object" && image !== null && "imageId" in image && typeof image.imageId === "string")
    fields.imageId = image.imageId;
  const plan = source.plan;
  if (typeof plan === "object" && plan !== null && "groupName" in plan && typeof plan.groupName === "string")
    fields.groupName = plan.groupName;
  return fields;
}
