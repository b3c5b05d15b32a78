/** Writes schemas/*.schema.json from the zod schemas (`npm run schemas`). */
import { writeFile } from "node:fs/promises";
import { publishedSchemas, renderJsonSchema } from "../core/json-schemas.ts";

for (const file of Object.keys(publishedSchemas) as Array<keyof typeof publishedSchemas>) {
  await writeFile(new URL(`../schemas/${file}`, import.meta.url), renderJsonSchema(file));
  console.log(`wrote schemas/${file}`);
}
