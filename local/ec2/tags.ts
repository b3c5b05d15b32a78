/** Tags on every taggable resource, and the CreateTags, DeleteTags and DescribeTags actions. */
import * as z from "zod";
import type { ActionHandler } from "./context.ts";
import { Ec2Error } from "./errors.ts";
import { applyFilters } from "./filters.ts";
import { paginate } from "./paging.ts";
import {
  filterListSchema,
  parseParams,
  queryInt,
  queryList,
  type TagSpecification,
  tagListSchema,
  toFilters,
  toTags,
} from "./query-params.ts";
import type { Ec2State, Tag } from "./state.ts";
import type { XmlValue } from "./xml.ts";

const MAX_TAGS = 50;

export type TaggableType = "instance" | "image" | "snapshot" | "launch-template" | "volume";

interface Taggable {
  id: string;
  type: TaggableType;
  tags: Tag[];
  setTags(tags: Tag[]): void;
}

/** Every taggable resource of the account. */
function allTaggables(state: Ec2State): Taggable[] {
  const resources: Taggable[] = [];
  for (const instance of Object.values(state.instances)) {
    resources.push({
      id: instance.instanceId,
      type: "instance",
      tags: instance.tags,
      setTags: (tags) => {
        instance.tags = tags;
      },
    });
    for (const volume of instance.volumes) {
      resources.push({
        id: volume.volumeId,
        type: "volume",
        tags: volume.tags,
        setTags: (tags) => {
          volume.tags = tags;
        },
      });
    }
  }
  for (const image of Object.values(state.images)) {
    resources.push({
      id: image.imageId,
      type: "image",
      tags: image.tags,
      setTags: (tags) => {
        image.tags = tags;
      },
    });
  }
  for (const snapshot of Object.values(state.snapshots)) {
    resources.push({
      id: snapshot.snapshotId,
      type: "snapshot",
      tags: snapshot.tags,
      setTags: (tags) => {
        snapshot.tags = tags;
      },
    });
  }
  for (const template of Object.values(state.launchTemplates)) {
    resources.push({
      id: template.launchTemplateId,
      type: "launch-template",
      tags: template.tags,
      setTags: (tags) => {
        template.tags = tags;
      },
    });
  }
  return resources;
}

/** The error AWS returns for a resource id that names nothing. */
export function resourceNotFound(id: string): Ec2Error {
  const prefix = id.split("-")[0];
  switch (prefix) {
    case "i":
      return new Ec2Error("InvalidInstanceID.NotFound", `The instance ID '${id}' does not exist`);
    case "ami":
      return new Ec2Error("InvalidAMIID.NotFound", `The image id '[${id}]' does not exist`);
    case "snap":
      return new Ec2Error("InvalidSnapshot.NotFound", `The snapshot '${id}' does not exist.`);
    case "lt":
      return new Ec2Error(
        "InvalidLaunchTemplateId.NotFound",
        `The specified launch template, with template ID ${id}, does not exist.`,
      );
    case "vol":
      return new Ec2Error("InvalidVolume.NotFound", `The volume '${id}' does not exist.`);
    default:
      return new Ec2Error("InvalidID", `The ID '${id}' is not valid`);
  }
}

function findTaggable(state: Ec2State, id: string): Taggable {
  const found = allTaggables(state).find((resource) => resource.id === id);
  if (found === undefined) throw resourceNotFound(id);
  return found;
}

/** Tags overlaid key by key: later tags replace earlier ones with the same key. */
export function mergeTags(base: Tag[], overrides: Tag[]): Tag[] {
  const merged = new Map(base.map((tag) => [tag.key, tag.value]));
  for (const tag of overrides) merged.set(tag.key, tag.value);
  if (merged.size > MAX_TAGS)
    throw new Ec2Error(
      "TagLimitExceeded",
      `The maximum number of tags (${MAX_TAGS}) per resource was exceeded`,
    );
  return [...merged].map(([key, value]) => ({ key, value }));
}

/** Checks tag specifications name resource types the action can tag. */
export function checkTagSpecifications(specs: TagSpecification[], allowed: string[]): void {
  for (const spec of specs) {
    if (!allowed.includes(spec.resourceType)) {
      throw new Ec2Error(
        "InvalidParameterValue",
        `'${spec.resourceType}' is not a valid taggable resource type for this operation.`,
      );
    }
  }
}

/** The tags the specifications give one resource type. */
export function tagsFor(specs: TagSpecification[], resourceType: string): Tag[] {
  return mergeTags(
    [],
    specs.filter((spec) => spec.resourceType === resourceType).flatMap((spec) => spec.tags),
  );
}

/** A tag set as EC2 renders it. */
export function renderTags(tags: Tag[]): XmlValue {
  return tags.map((tag) => ({ key: tag.key, value: tag.value }));
}

const resourceIds = queryList(z.string().min(1));

export const createTags: ActionHandler = async ({ state, store }, params) => {
  const request = parseParams(z.object({ ResourceId: resourceIds, Tag: tagListSchema }), params);
  const resources = request.ResourceId.map((id) => findTaggable(state, id));
  const tags = toTags(request.Tag);
  for (const resource of resources) resource.setTags(mergeTags(resource.tags, tags));
  await store.save();
  return { return: true };
};

export const deleteTags: ActionHandler = async ({ state, store }, params) => {
  const request = parseParams(z.object({ ResourceId: resourceIds, Tag: tagListSchema.optional() }), params);
  const resources = request.ResourceId.map((id) => findTaggable(state, id));
  for (const resource of resources) {
    // No Tag parameter deletes every tag; a tag with a value deletes it only when the value matches.
    const doomed = request.Tag;
    resource.setTags(
      doomed === undefined
        ? []
        : resource.tags.filter(
            (tag) =>
              !doomed.some(
                (spec) => spec.Key === tag.key && (spec.Value === undefined || spec.Value === tag.value),
              ),
          ),
    );
  }
  await store.save();
  return { return: true };
};

export const describeTags: ActionHandler = async ({ state }, params) => {
  const request = parseParams(
    z.object({
      Filter: filterListSchema.optional(),
      MaxResults: queryInt.optional(),
      NextToken: z.string().optional(),
    }),
    params,
  );
  const entries = allTaggables(state).flatMap((resource) =>
    resource.tags.map((tag) => ({
      resourceId: resource.id,
      resourceType: resource.type,
      key: tag.key,
      value: tag.value,
    })),
  );
  const matching = applyFilters(entries, toFilters(request.Filter), (entry, name) => {
    if (name === "resource-id") return [entry.resourceId];
    if (name === "resource-type") return [entry.resourceType];
    if (name === "key") return [entry.key];
    if (name === "value") return [entry.value];
    if (name.startsWith("tag:")) return name.slice(4) === entry.key ? [entry.value] : [];
    return undefined;
  });
  const page = paginate(
    matching,
    (entry) => `${entry.resourceId}\u0000${entry.key}`,
    { maxResults: request.MaxResults, nextToken: request.NextToken },
    { min: 5, max: 1000 },
  );
  return { tagSet: page.items, nextToken: page.nextToken };
};
