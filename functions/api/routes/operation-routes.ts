/** Uploading an artifact, and pruning images. */
import * as z from "zod";
import { serviceNameSchema, versionSchema } from "../../../core/manifest.ts";
import { requestUpload } from "../../../core/operations/artifact-requests.ts";
import { uploadTicketSchema } from "../../../core/operations/views.ts";
import { pruneRunSchema } from "../../../core/prune/prune-run.ts";
import { runPrune } from "../../../core/prune/run-prune.ts";
import type { ApiDeps } from "../api-deps.ts";
import { defineRoute, type Route } from "../router.ts";
import { requester } from "./route-parts.ts";

const uploadRequestSchema = z.strictObject({ service: serviceNameSchema, version: versionSchema });

const pruneRequestSchema = z
  .strictObject({
    dryRun: z.boolean().default(false).describe("List what would be removed; remove nothing"),
    service: serviceNameSchema.optional().describe("Only this service's images"),
  })
  .optional();

/** Removals stop this long before the function would be stopped, so the run is still recorded. */
const pruneReserveMs = 5_000;

/** The upload and prune routes. */
export function operationRoutes(deps: ApiDeps): Route[] {
  return [
    defineRoute({
      method: "POST",
      path: "/uploads",
      operationId: "requestUpload",
      summary: "A short-lived URL to PUT an artifact to; the upload itself starts its deployment",
      request: z.object({ body: uploadRequestSchema }),
      responses: { 201: { description: "The upload URL", schema: uploadTicketSchema } },
      async handle({ body }) {
        const ticket = await requestUpload(
          {
            services: deps.services,
            uploads: deps.uploads,
            bucket: deps.bucket,
            expiresSeconds: deps.uploadUrlSeconds,
            clock: deps.clock,
          },
          body,
        );
        return { status: 201, json: ticket };
      },
    }),
    defineRoute({
      method: "POST",
      path: "/prune",
      operationId: "pruneImages",
      summary: "Remove old images now, or preview what a prune would remove (dryRun)",
      request: z.object({ body: pruneRequestSchema }),
      responses: {
        200: {
          description: "The run's record: what was (or would be) removed, what was kept and why",
          schema: pruneRunSchema,
        },
      },
      async handle({ body, caller, timeLeftMs }) {
        const run = await runPrune(
          deps.prune,
          {
            dryRun: body?.dryRun ?? false,
            service: body?.service,
            trigger: { kind: "api", by: requester(caller) },
          },
          { timeLeftMs, reserveMs: pruneReserveMs },
        );
        // The run record as documented: internal fields of the selection stay out of the answer.
        return { status: 200, json: pruneRunSchema.parse(run) };
      },
    }),
  ];
}
