/** Services: register one, list and read them, their images and instances, roll one back. */
import * as z from "zod";
import { serviceNameSchema } from "../../../core/manifest.ts";
import { rollBackService } from "../../../core/operations/roll-back-service.ts";
import {
  describeService,
  listServiceImages,
  listServiceInstances,
  listServices,
} from "../../../core/operations/service-overview.ts";
import {
  deploymentView,
  deploymentViewSchema,
  serviceImagesSchema,
  serviceInstancesSchema,
  serviceListSchema,
  serviceViewSchema,
} from "../../../core/operations/views.ts";
import { registerService } from "../../../core/register-service.ts";
import { serviceConfigSchema } from "../../../core/service-config.ts";
import type { ApiDeps } from "../api-deps.ts";
import { defineRoute, noInput, RequestValidationError, type Route } from "../router.ts";
import { requester, serviceParams } from "./route-parts.ts";

// The path names the service; the body may repeat the name, and then it must agree.
const serviceRegistrationSchema = serviceConfigSchema.extend({ name: serviceNameSchema.optional() });

const rollbackRequestSchema = z
  .strictObject({
    deploymentId: z
      .string()
      .min(1)
      .max(64)
      .optional()
      .describe("Roll back to the image this succeeded deployment rolled out"),
    imageId: z.string().min(1).max(64).optional().describe("Or to this image of the service"),
    idempotencyKey: z
      .string()
      .min(1)
      .max(128)
      .optional()
      .describe("The same key again returns the same rollback"),
  })
  .optional()
  .describe("Without a target: the image pinned before the current last-known-good one");

/** The service routes. */
export function serviceRoutes(deps: ApiDeps): Route[] {
  return [
    defineRoute({
      method: "GET",
      path: "/services",
      operationId: "listServices",
      summary: "Every registered service with its lock, pins and latest deployment",
      request: noInput,
      responses: { 200: { description: "The services, by name", schema: serviceListSchema } },
      async handle() {
        return { status: 200, json: { items: await listServices(deps) } };
      },
    }),
    defineRoute({
      method: "PUT",
      path: "/services/{name}",
      operationId: "registerService",
      summary: "Register a service, or replace its config; its group must use the named launch template",
      request: z.object({ params: serviceParams, body: serviceRegistrationSchema }),
      responses: {
        201: { description: "Registered", schema: serviceViewSchema },
        200: { description: "Its config was replaced", schema: serviceViewSchema },
      },
      async handle({ params, body }) {
        if (body.name !== undefined && body.name !== params.name) {
          throw new RequestValidationError([
            { field: "body.name", message: `names ${body.name}, but the path names ${params.name}` },
          ]);
        }
        const existed = (await deps.services.getConfig(params.name)) !== undefined;
        await registerService(deps, { ...body, name: params.name });
        return { status: existed ? 200 : 201, json: await describeService(deps, params.name) };
      },
    }),
    defineRoute({
      method: "GET",
      path: "/services/{name}",
      operationId: "getService",
      summary: "One service: its config, lock, pins and latest deployment",
      request: z.object({ params: serviceParams }),
      responses: { 200: { description: "The service", schema: serviceViewSchema } },
      async handle({ params }) {
        return { status: 200, json: await describeService(deps, params.name) };
      },
    }),
    defineRoute({
      method: "GET",
      path: "/services/{name}/images",
      operationId: "listServiceImages",
      summary: "The images Kiln baked for a service, newest first, with their pins",
      request: z.object({ params: serviceParams }),
      responses: { 200: { description: "The images", schema: serviceImagesSchema } },
      async handle({ params }) {
        return {
          status: 200,
          json: await listServiceImages({ services: deps.services, images: deps.serviceImages }, params.name),
        };
      },
    }),
    defineRoute({
      method: "GET",
      path: "/services/{name}/instances",
      operationId: "listServiceInstances",
      summary: "The instances of a service's group and the version each runs",
      request: z.object({ params: serviceParams }),
      responses: { 200: { description: "The group and its instances", schema: serviceInstancesSchema } },
      async handle({ params }) {
        const view = await listServiceInstances(
          { services: deps.services, groups: deps.groupInstances, images: deps.serviceImages },
          params.name,
        );
        return { status: 200, json: view };
      },
    }),
    defineRoute({
      method: "POST",
      path: "/services/{name}/rollback",
      operationId: "rollBackService",
      summary: "Roll a service back to an earlier image, as a deployment of its own (queued like any other)",
      request: z.object({ params: serviceParams, body: rollbackRequestSchema }),
      responses: {
        202: { description: "Accepted: the rollback started or was queued", schema: deploymentViewSchema },
        200: {
          description: "The same idempotency key was used before: that rollback",
          schema: deploymentViewSchema,
        },
      },
      async handle({ params, body, caller }) {
        const { deployment, duplicate } = await rollBackService(deps, {
          ...body,
          service: params.name,
          by: requester(caller),
        });
        return { status: duplicate ? 200 : 202, json: deploymentView(deployment) };
      },
    }),
  ];
}
