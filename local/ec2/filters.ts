/**
 * EC2's `Filter.N` semantics: a resource matches when every filter matches, and a filter matches
 * when any of its values matches any of the resource's values for that name. Values may use `*`
 * and `?` wildcards.
 */
import { Ec2Error } from "./errors.ts";
import type { QueryFilter } from "./query-params.ts";
import type { Tag } from "./state.ts";

/** The values a resource has for each filter name it supports (`undefined`: no such filter). */
export type FilterValues<T> = (resource: T, filterName: string) => string[] | undefined;

function wildcardPattern(value: string): RegExp {
  const source = value
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, ".*")
    .replace(/\?/g, ".");
  return new RegExp(`^${source}$`, "s");
}

/** Values of the tag filters every taggable resource supports: `tag:<key>`, `tag-key`, `tag-value`. */
export function tagFilterValues(tags: Tag[], filterName: string): string[] | undefined {
  if (filterName.startsWith("tag:")) {
    const key = filterName.slice("tag:".length);
    return tags.filter((tag) => tag.key === key).map((tag) => tag.value);
  }
  if (filterName === "tag-key") return tags.map((tag) => tag.key);
  if (filterName === "tag-value") return tags.map((tag) => tag.value);
  return undefined;
}

/** Keeps the resources that match every filter; an unknown filter name fails as AWS does. */
export function applyFilters<T>(resources: T[], filters: QueryFilter[], valuesOf: FilterValues<T>): T[] {
  if (filters.length === 0) return resources;
  const compiled = filters.map((filter) => ({
    name: filter.name,
    patterns: filter.values.map(wildcardPattern),
  }));
  return resources.filter((resource) =>
    compiled.every(({ name, patterns }) => {
      const values = valuesOf(resource, name);
      if (values === undefined)
        throw new Ec2Error("InvalidParameterValue", `The filter '${name}' is invalid`);
      return values.some((value) => patterns.some((pattern) => pattern.test(value)));
    }),
  );
}
