/** JSON Schemas of Kiln's two hand-written documents, generated from their zod schemas for editors. */
import * as z from "zod";
import { manifestSchema } from "./manifest.ts";
import { serviceConfigSchema } from "./service-config.ts";

export const publishedSchemas = {
  "kiln-manifest.schema.json": { schema: manifestSchema, title: "Kiln artifact manifest (kiln.json)" },
  "service-config.schema.json": { schema: serviceConfigSchema, title: "Kiln service deployment target" },
} as const;

/** The JSON Schema text for one published file, as checked into schemas/. */
export function renderJsonSchema(file: keyof typeof publishedSchemas): string {
  const { schema, title } = publishedSchemas[file];
  const json = z.toJSONSchema(schema, { io: "input", target: "draft-2020-12" });
  return `${JSON.stringify({ ...json, title }, null, 2)}\n`;
}
