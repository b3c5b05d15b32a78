/** S3 ObjectCreated under artifacts/: each uploaded artifact becomes a deployment request. */
import { requestDeployment } from "../core/request-deployment.ts";
import { s3EventSchema, toDeploymentRequests } from "../core/s3-event.ts";
import { artifactLimits } from "./environment.ts";
import { kilnHandler } from "./kiln-handler.ts";
import { logger } from "./observability.ts";
import * as wire from "./wiring.ts";

const deps = {
  ...wire.queueDeps(),
  artifacts: wire.artifacts(),
  notifier: wire.notifier(),
  clock: wire.clock(),
  limits: artifactLimits(),
};

export const handler = kilnHandler("onArtifact", s3EventSchema, async (event) => {
  const outcomes = [];
  for (const request of toDeploymentRequests(event)) {
    const { deployment, duplicate } = await requestDeployment(deps, request);
    logger.info("artifact handled", {
      deploymentId: deployment.id,
      service: deployment.service,
      status: deployment.status,
      duplicate,
    });
    outcomes.push({ deploymentId: deployment.id, status: deployment.status, duplicate });
  }
  return outcomes;
});
