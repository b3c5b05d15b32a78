import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { publishedSchemas, renderJsonSchema } from "../../core/json-schemas.ts";

describe("published JSON Schemas", () => {
  it.each(Object.keys(publishedSchemas) as Array<keyof typeof publishedSchemas>)(
    "schemas/%s matches its zod schema (run `npm run schemas`)",
    async (file) => {
      const checkedIn = await readFile(new URL(`../../schemas/${file}`, import.meta.url), "utf8");
      expect(checkedIn).toBe(renderJsonSchema(file));
    },
  );

  it("lets editors complete the manifest's fields", async () => {
    const schema = JSON.parse(
      await readFile(new URL("../../schemas/kiln-manifest.schema.json", import.meta.url), "utf8"),
    );
    expect(Object.keys(schema.properties)).toEqual(
      expect.arrayContaining(["service", "version", "start", "port", "healthPath", "install", "env"]),
    );
    expect(schema.required).toEqual(expect.arrayContaining(["service", "version", "start", "port"]));
  });
});
