/**
 * The OpenAPI 3.1 document of the operator API, built from the routes' own zod schemas
 * (`z.toJSONSchema`), so it says what the router parses and the handlers return.
 */
import * as z from "zod";
import {
  deploymentPageSchema,
  deploymentViewSchema,
  serviceImagesSchema,
  serviceInstancesSchema,
  serviceListSchema,
  serviceViewSchema,
  uploadTicketSchema,
} from "../../core/operations/views.ts";
import { pruneRunSchema } from "../../core/prune/prune-run.ts";
import { errorBodySchema, type Route } from "./router.ts";

type JsonSchema = Record<string, unknown>;

export interface OpenApiOperation {
  operationId: string;
  summary: string;
  parameters?: Array<{
    name: string;
    in: "path" | "query";
    required: boolean;
    description?: string;
    schema: JsonSchema;
  }>;
  requestBody?: { required: boolean; content: Record<string, { schema: JsonSchema }> };
  responses: Record<string, { description: string; content?: Record<string, { schema: JsonSchema }> }>;
  security: Array<Record<string, string[]>>;
}

export interface OpenApiDocument {
  openapi: "3.1.0";
  info: { title: string; version: string; description: string };
  paths: Record<string, Record<string, OpenApiOperation>>;
  components: { schemas: Record<string, JsonSchema>; securitySchemes: Record<string, JsonSchema> };
}

/** Schemas several operations return, documented once under these names. */
const sharedSchemas: Array<[z.ZodType, string]> = [
  [deploymentViewSchema, "Deployment"],
  [deploymentPageSchema, "DeploymentPage"],
  [serviceViewSchema, "Service"],
  [serviceListSchema, "ServiceList"],
  [serviceImagesSchema, "ServiceImages"],
  [serviceInstancesSchema, "ServiceInstances"],
  [uploadTicketSchema, "UploadTicket"],
  [pruneRunSchema, "PruneRun"],
  [errorBodySchema, "Error"],
];

const componentRef = (name: string) => `#/components/schemas/${name}`;
const jsonSchemaOptions = { target: "draft-2020-12", unrepresentable: "any" } as const;

/** A standalone JSON Schema without the keys that only a root document carries. */
function bare(schema: JsonSchema): JsonSchema {
  const { $schema: _schema, $id: _id, ...rest } = schema;
  return rest;
}

function parameters(route: Route): NonNullable<OpenApiOperation["parameters"]> {
  const list: NonNullable<OpenApiOperation["parameters"]> = [];
  for (const [place, object] of [
    ["path", route.request.shape.params],
    ["query", route.request.shape.query],
  ] as const) {
    for (const [name, schema] of Object.entries(object?.shape ?? {})) {
      const json = bare(z.toJSONSchema(schema, { ...jsonSchemaOptions, io: "input" }));
      const description = typeof json.description === "string" ? json.description : undefined;
      list.push({
        name,
        in: place,
        required: place === "path" || !z.safeParse(schema, undefined).success,
        ...(description ? { description } : {}),
        schema: json,
      });
    }
  }
  return list;
}

const sharedErrors: Record<number, string> = {
  400: "Invalid request: every problem is named by its field",
  401: "Missing or wrong credentials",
  404: "No such deployment, service, image or artifact",
  409: "The request conflicts with the current state",
  500: "An unexpected failure; the body carries only a request id",
  503: "AWS is throttling or unavailable, or a prune could not read what uses images",
};

/** Builds the document for `routes`. */
export function buildOpenApiDocument(routes: Route[], version: string): OpenApiDocument {
  const outputs = z.registry<{ id: string }>();
  const inputs = z.registry<{ id: string }>();
  const names = new Map<z.ZodType, string>(sharedSchemas);
  for (const [schema, name] of sharedSchemas) outputs.add(schema, { id: name });

  const paths: OpenApiDocument["paths"] = {};
  for (const route of routes) {
    const responses: OpenApiOperation["responses"] = {};
    for (const [status, spec] of Object.entries(route.responses)) {
      if (!spec.schema) {
        const contentType = spec.contentType ?? "text/plain";
        const schema = contentType.includes("json") ? { type: "object" } : { type: "string" };
        responses[status] = { description: spec.description, content: { [contentType]: { schema } } };
        continue;
      }
      let name = names.get(spec.schema);
      if (name === undefined) {
        name = `${route.operationId[0]?.toUpperCase()}${route.operationId.slice(1)}${status}`;
        names.set(spec.schema, name);
        outputs.add(spec.schema, { id: name });
      }
      responses[status] = {
        description: spec.description,
        content: { "application/json": { schema: { $ref: componentRef(name) } } },
      };
    }
    for (const [status, description] of Object.entries(sharedErrors)) {
      if (route.public && status !== "500") continue;
      responses[status] ??= {
        description,
        content: { "application/json": { schema: { $ref: componentRef("Error") } } },
      };
    }

    const operation: OpenApiOperation = {
      operationId: route.operationId,
      summary: route.summary,
      responses,
      security: route.public ? [] : [{ bearer: [] }, { sigv4: [] }],
    };
    const list = parameters(route);
    if (list.length > 0) operation.parameters = list;
    const body = route.request.shape.body;
    if (body) {
      const name = `${route.operationId[0]?.toUpperCase()}${route.operationId.slice(1)}Request`;
      inputs.add(body, { id: name });
      operation.requestBody = {
        required: !body.safeParse(undefined).success,
        content: { "application/json": { schema: { $ref: componentRef(name) } } },
      };
    }
    const openApiPath = route.path;
    paths[openApiPath] ??= {};
    paths[openApiPath][route.method.toLowerCase()] = operation;
  }

  const convert = (registry: typeof outputs, io: "input" | "output") =>
    Object.entries(z.toJSONSchema(registry, { ...jsonSchemaOptions, io, uri: componentRef }).schemas).map(
      ([name, schema]) => [name, bare(schema)] as const,
    );
  return {
    openapi: "3.1.0",
    info: {
      title: "Kiln operator API",
      version,
      description:
        "Deploy artifacts, follow and cancel deployments, roll services back, inspect services, images and instances, prune images.",
    },
    paths,
    components: {
      schemas: Object.fromEntries([...convert(outputs, "output"), ...convert(inputs, "input")]),
      securitySchemes: {
        bearer: {
          type: "http",
          scheme: "bearer",
          description: "The local cloud's token, or a JWT when the stage configures an issuer",
        },
        sigv4: {
          type: "apiKey",
          in: "header",
          name: "Authorization",
          description: "An AWS SigV4 signature (service execute-api): IAM auth on AWS",
          "x-amazon-apigateway-authtype": "awsSigv4",
        },
      },
    },
  };
}
