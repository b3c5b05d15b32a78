/** Deployments: request one, list them, read one with its step timeline, cancel one. */
import * as z from "zod";
import { ArtifactRejectedError } from "../../../core/errors.ts";
import { serviceNameSchema, versionSchema } from "../../../core/manifest.ts";
import { deployArtifact } from "../../../core/operations/artifact-requests.ts";
import { cancelDeployment } from "../../../core/operations/cancel-deployment.ts";
import { getDeployment, listDeployments } from "../../../core/operations/deployment-queries.ts";
import {
  deploymentPageSchema,
  deploymentView,
  deploymentViewSchema,
} from "../../../core/operations/views.ts";
import type { ApiDeps } from "../api-deps.ts";
import { defineRoute, type Route } from "../router.ts";
import { deploymentParams, pageQuery, requester, serviceParams } from "./route-parts.ts";

const deploymentRequestSchema = z
  .strictObject({
    service: serviceNameSchema,
    version: versionSchema.optional().describe("Deploy artifacts/<service>/<version>.tgz"),
    key: z.string().min(1).max(1024).optional().describe("Or name the artifact's key in the bucket"),
    idempotencyKey: z
      .string()
      .min(1)
      .max(128)
      .optional()
      .describe(
        "Deploy the same artifact again as a new deployment; the same key again returns that deployment",
      ),
  })
  .refine((request) => (request.version === undefined) !== (request.key === undefined), {
    message: "name the artifact by either version or key",
    path: ["version"],
  });

/** The deployment routes. */
export function deploymentRoutes(deps: ApiDeps): Route[] {
  return [
    defineRoute({
      method: "POST",
      path: "/deployments",
      operationId: "requestDeployment",
      summary: "Deploy an artifact already in the bucket",
      request: z.object({ body: deploymentRequestSchema }),
      responses: {
        202: { description: "Accepted: the deployment started or was queued", schema: deploymentViewSchema },
        200: {
          description: "The same artifact (and idempotency key) was requested before: that deployment",
          schema: deploymentViewSchema,
        },
      },
      async handle({ body, caller }) {
        const { deployment, duplicate } = await deployArtifact(deps, { ...body, by: requester(caller) });
        if (deployment.status === "REJECTED") {
          throw new ArtifactRejectedError(
            `deployment ${deployment.id} was rejected: ${deployment.error?.message ?? "the artifact is invalid"}`,
          );
        }
        return { status: duplicate ? 200 : 202, json: deploymentView(deployment) };
      },
    }),
    defineRoute({
      method: "GET",
      path: "/deployments",
      operationId: "listDeployments",
      summary: "Deployments newest first, across services or for one, optionally only some statuses",
      request: z.object({ query: pageQuery.extend({ service: serviceNameSchema.optional() }) }),
      responses: { 200: { description: "A page of deployments", schema: deploymentPageSchema } },
      async handle({ query }) {
        const page = await listDeployments(deps, {
          service: query.service,
          statuses: query.status,
          limit: query.limit,
          cursor: query.cursor,
        });
        return { status: 200, json: { items: page.items.map(deploymentView), cursor: page.cursor } };
      },
    }),
    defineRoute({
      method: "GET",
      path: "/services/{name}/deployments",
      operationId: "listServiceDeployments",
      summary: "One service's deployments newest first",
      request: z.object({ params: serviceParams, query: pageQuery }),
      responses: { 200: { description: "A page of deployments", schema: deploymentPageSchema } },
      async handle({ params, query }) {
        const page = await listDeployments(deps, {
          service: params.name,
          statuses: query.status,
          limit: query.limit,
          cursor: query.cursor,
        });
        return { status: 200, json: { items: page.items.map(deploymentView), cursor: page.cursor } };
      },
    }),
    defineRoute({
      method: "GET",
      path: "/deployments/{id}",
      operationId: "getDeployment",
      summary: "One deployment with its step timeline",
      request: z.object({ params: deploymentParams }),
      responses: { 200: { description: "The deployment", schema: deploymentViewSchema } },
      async handle({ params }) {
        return { status: 200, json: deploymentView(await getDeployment(deps, params.id)) };
      },
    }),
    defineRoute({
      method: "POST",
      path: "/deployments/{id}/cancel",
      operationId: "cancelDeployment",
      summary: "Cancel a queued or running deployment (not one already rolling its group)",
      request: z.object({ params: deploymentParams }),
      responses: {
        200: {
          description: "Cancelled: it was queued (or held the lock without running)",
          schema: deploymentViewSchema,
        },
        202: {
          description: "Its execution is stopping: CANCELLED is recorded once cleanup has run",
          schema: deploymentViewSchema,
        },
      },
      async handle({ params, caller }) {
        const { deployment, stopping } = await cancelDeployment(deps, params.id, requester(caller));
        return { status: stopping ? 202 : 200, json: deploymentView(deployment) };
      },
    }),
  ];
}
