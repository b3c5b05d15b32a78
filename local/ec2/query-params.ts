/**
 * EC2's query protocol: a form-encoded body whose keys nest with dots (`Filter.1.Value.2`,
 * `LaunchTemplate.Version`). The body is turned into a tree, then each action parses the tree
 * with its own zod schema; an invalid tree becomes the error AWS would return.
 */
import * as z from "zod";
import { Ec2Error, invalidParameterValue, missingParameter } from "./errors.ts";

export interface QueryTree {
  [key: string]: string | QueryTree;
}

/** Builds the nested parameter tree of a form-encoded request. */
export function parseQueryTree(body: string): QueryTree {
  const tree: QueryTree = {};
  for (const [key, value] of new URLSearchParams(body)) {
    const segments = key.split(".");
    let node = tree;
    segments.forEach((segment, index) => {
      const last = index === segments.length - 1;
      const existing = node[segment];
      if (last) {
        if (typeof existing === "object")
          throw invalidParameterValue(`The parameter ${key} is both a value and a structure`);
        node[segment] = value;
        return;
      }
      if (typeof existing === "string")
        throw invalidParameterValue(`The parameter ${key} is both a value and a structure`);
      const child: QueryTree = existing ?? {};
      node[segment] = child;
      node = child;
    });
  }
  return tree;
}

/** A list sent as `Name.1`, `Name.2`…, read back in index order. */
export function queryList<T extends z.ZodType>(item: T) {
  return z.record(z.string().regex(/^[1-9][0-9]*$/, "list indexes start at 1"), item).transform((entries) =>
    Object.entries(entries)
      .sort(([a], [b]) => Number(a) - Number(b))
      .map(([, value]) => value),
  );
}

export const queryInt = z
  .string()
  .regex(/^-?[0-9]+$/, "expected an integer")
  .transform((text) => Number(text));

export const queryBool = z.enum(["true", "false"]).transform((text) => text === "true");

export const filterListSchema = queryList(
  z.object({ Name: z.string().min(1), Value: queryList(z.string()).optional() }),
);
export type QueryFilter = { name: string; values: string[] };

/** Filters as `{ name, values }`, ready for matching. */
export function toFilters(parsed: z.infer<typeof filterListSchema> | undefined): QueryFilter[] {
  return (parsed ?? []).map((filter) => ({ name: filter.Name, values: filter.Value ?? [] }));
}

export const tagListSchema = queryList(
  z.object({ Key: z.string().min(1).max(128), Value: z.string().max(256).optional() }),
);
export type QueryTag = { key: string; value: string };

/** Tags as `{ key, value }`; an absent value is the empty string, as AWS stores it. */
export function toTags(parsed: z.infer<typeof tagListSchema> | undefined): QueryTag[] {
  return (parsed ?? []).map((tag) => ({ key: tag.Key, value: tag.Value ?? "" }));
}

export const tagSpecificationListSchema = queryList(
  z.object({ ResourceType: z.string().min(1), Tag: tagListSchema.optional() }),
);
export type TagSpecification = { resourceType: string; tags: QueryTag[] };

/** Tag specifications as `{ resourceType, tags }`. */
export function toTagSpecifications(
  parsed: z.infer<typeof tagSpecificationListSchema> | undefined,
): TagSpecification[] {
  return (parsed ?? []).map((spec) => ({ resourceType: spec.ResourceType, tags: toTags(spec.Tag) }));
}

function valueAt(tree: QueryTree, path: PropertyKey[]): string | QueryTree | undefined {
  let node: string | QueryTree | undefined = tree;
  for (const segment of path) {
    if (node === undefined || typeof node === "string") return undefined;
    node = node[String(segment)];
  }
  return node;
}

/** Parses the request tree with an action's schema, failing as AWS does for a bad parameter. */
export function parseParams<S extends z.ZodType>(schema: S, tree: QueryTree): z.infer<S> {
  const result = schema.safeParse(tree);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  if (issue === undefined) throw invalidParameterValue("Invalid request");
  const name = issue.path.map(String).join(".");
  const value = valueAt(tree, issue.path);
  if (value === undefined) throw missingParameter(name);
  const shown = typeof value === "string" ? value : "(structure)";
  throw new Ec2Error("InvalidParameterValue", `Invalid value '${shown}' for ${name}: ${issue.message}`);
}
