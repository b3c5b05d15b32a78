/**
 * Launch templates and their versions: CreateLaunchTemplate, CreateLaunchTemplateVersion,
 * DescribeLaunchTemplates, DescribeLaunchTemplateVersions, ModifyLaunchTemplate and
 * DeleteLaunchTemplate, with the error codes AWS uses for each.
 */
import * as z from "zod";
import { fingerprintOf, previousCreation, rememberCreation } from "./client-tokens.ts";
import { ACCOUNT_ID, type ActionHandler } from "./context.ts";
import { Ec2Error, missingParameter } from "./errors.ts";
import { applyFilters, tagFilterValues } from "./filters.ts";
import { isWellFormedId, newId } from "./ids.ts";
import { checkUserData, launchDataParams, toLaunchData } from "./launch-data.ts";
import { paginate } from "./paging.ts";
import {
  filterListSchema,
  parseParams,
  queryInt,
  queryList,
  tagSpecificationListSchema,
  toFilters,
  toTagSpecifications,
} from "./query-params.ts";
import type { Ec2State, LaunchTemplate, LaunchTemplateData, LaunchTemplateVersion } from "./state.ts";
import { checkTagSpecifications, renderTags, tagsFor } from "./tags.ts";
import type { XmlObject } from "./xml.ts";

const TEMPLATE_NAME = /^[a-zA-Z0-9().\-/_]{3,128}$/;
const CREATED_BY = `arn:aws:iam::${ACCOUNT_ID}:root`;

export interface TemplateReference {
  launchTemplateId?: string | undefined;
  launchTemplateName?: string | undefined;
}

/** A launch template by id or name, failing with the code AWS uses for each. */
export function findLaunchTemplate(state: Ec2State, reference: TemplateReference): LaunchTemplate {
  const { launchTemplateId: id, launchTemplateName: name } = reference;
  if (id !== undefined) {
    if (!isWellFormedId("lt", id))
      throw new Ec2Error("InvalidLaunchTemplateId.Malformed", `The launch template ID '${id}' is malformed.`);
    const template = state.launchTemplates[id];
    if (template === undefined)
      throw new Ec2Error(
        "InvalidLaunchTemplateId.NotFound",
        `The specified launch template, with template ID ${id}, does not exist.`,
      );
    return template;
  }
  if (name !== undefined) {
    const template = Object.values(state.launchTemplates).find(
      (candidate) => candidate.launchTemplateName === name,
    );
    if (template === undefined) {
      throw new Ec2Error(
        "InvalidLaunchTemplateName.NotFoundException",
        `The specified launch template, with template name ${name}, does not exist.`,
      );
    }
    return template;
  }
  throw missingParameter("LaunchTemplateId or LaunchTemplateName");
}

/** A version by number, `$Latest` or `$Default` (the default when none is named). */
export function resolveVersion(template: LaunchTemplate, version: string | undefined): LaunchTemplateVersion {
  const number =
    version === undefined || version === "$Default"
      ? template.defaultVersion
      : version === "$Latest"
        ? template.latestVersion
        : /^[1-9][0-9]*$/.test(version)
          ? Number(version)
          : undefined;
  const found = template.versions.find((candidate) => candidate.versionNumber === number);
  if (found === undefined) {
    throw new Ec2Error(
      "InvalidLaunchTemplateId.VersionNotFound",
      `Could not find launch template version ${version ?? "$Default"} for template ${template.launchTemplateId}`,
    );
  }
  return found;
}

function renderTemplate(template: LaunchTemplate): XmlObject {
  return {
    launchTemplateId: template.launchTemplateId,
    launchTemplateName: template.launchTemplateName,
    createTime: template.createTime,
    createdBy: CREATED_BY,
    defaultVersionNumber: template.defaultVersion,
    latestVersionNumber: template.latestVersion,
    tagSet: renderTags(template.tags),
  };
}

function renderLaunchData(data: LaunchTemplateData): XmlObject {
  return {
    imageId: data.imageId,
    instanceType: data.instanceType,
    keyName: data.keyName,
    userData: data.userData,
    ebsOptimized: data.ebsOptimized,
    disableApiTermination: data.disableApiTermination,
    instanceInitiatedShutdownBehavior: data.instanceInitiatedShutdownBehavior,
    iamInstanceProfile: data.iamInstanceProfile,
    securityGroupIdSet: data.securityGroupIds,
    securityGroupSet: data.securityGroups,
    tagSpecificationSet: data.tagSpecifications?.map((spec) => ({
      resourceType: spec.resourceType,
      tagSet: renderTags(spec.tags),
    })),
    metadataOptions:
      data.metadataOptions === undefined ? undefined : { state: "applied", ...data.metadataOptions },
    blockDeviceMappingSet: data.blockDeviceMappings?.map((mapping) => ({ ...mapping })),
    monitoring: data.monitoring,
  };
}

function renderVersion(template: LaunchTemplate, version: LaunchTemplateVersion): XmlObject {
  return {
    launchTemplateId: template.launchTemplateId,
    launchTemplateName: template.launchTemplateName,
    versionNumber: version.versionNumber,
    versionDescription: version.description,
    createTime: version.createTime,
    createdBy: CREATED_BY,
    defaultVersion: version.versionNumber === template.defaultVersion,
    launchTemplateData: renderLaunchData(version.data),
  };
}

const templateReferenceParams = {
  LaunchTemplateId: z.string().optional(),
  LaunchTemplateName: z.string().optional(),
};

function referenceOf(request: {
  LaunchTemplateId?: string | undefined;
  LaunchTemplateName?: string | undefined;
}): TemplateReference {
  return { launchTemplateId: request.LaunchTemplateId, launchTemplateName: request.LaunchTemplateName };
}

const createLaunchTemplateParams = z.object({
  LaunchTemplateName: z.string(),
  VersionDescription: z.string().max(255).optional(),
  LaunchTemplateData: launchDataParams.optional(),
  TagSpecification: tagSpecificationListSchema.optional(),
  ClientToken: z.string().optional(),
});

export const createLaunchTemplate: ActionHandler = async ({ state, store }, params) => {
  const request = parseParams(createLaunchTemplateParams, params);
  const fingerprint = fingerprintOf(params);
  const previous = previousCreation(state, "CreateLaunchTemplate", request.ClientToken, fingerprint);
  const earlier = previous === undefined ? undefined : state.launchTemplates[previous];
  if (earlier !== undefined) return { launchTemplate: renderTemplate(earlier) };
  if (!TEMPLATE_NAME.test(request.LaunchTemplateName)) {
    throw new Ec2Error(
      "InvalidLaunchTemplateName.MalformedException",
      "A launch template name must be between 3 and 128 characters, and may contain letters, numbers, and the following characters: - ( ) . / _.'",
    );
  }
  if (
    Object.values(state.launchTemplates).some(
      (template) => template.launchTemplateName === request.LaunchTemplateName,
    )
  ) {
    throw new Ec2Error(
      "InvalidLaunchTemplateName.AlreadyExistsException",
      `Launch template name already in use.`,
    );
  }
  const specs = toTagSpecifications(request.TagSpecification);
  checkTagSpecifications(specs, ["launch-template"]);
  const data = request.LaunchTemplateData === undefined ? {} : toLaunchData(request.LaunchTemplateData);
  const now = new Date().toISOString();
  const template: LaunchTemplate = {
    launchTemplateId: newId("lt"),
    launchTemplateName: request.LaunchTemplateName,
    createTime: now,
    defaultVersion: 1,
    latestVersion: 1,
    tags: tagsFor(specs, "launch-template"),
    versions: [{ versionNumber: 1, description: request.VersionDescription, createTime: now, data }],
  };
  state.launchTemplates[template.launchTemplateId] = template;
  rememberCreation(
    state,
    "CreateLaunchTemplate",
    request.ClientToken,
    fingerprint,
    template.launchTemplateId,
  );
  await store.save();
  return { launchTemplate: renderTemplate(template) };
};

const createVersionParams = z.object({
  ...templateReferenceParams,
  SourceVersion: z.string().optional(),
  VersionDescription: z.string().max(255).optional(),
  LaunchTemplateData: launchDataParams.optional(),
  ClientToken: z.string().optional(),
});

export const createLaunchTemplateVersion: ActionHandler = async ({ state, store }, params) => {
  const request = parseParams(createVersionParams, params);
  const template = findLaunchTemplate(state, referenceOf(request));
  const fingerprint = fingerprintOf(params);
  const previous = previousCreation(state, "CreateLaunchTemplateVersion", request.ClientToken, fingerprint);
  const earlier = template.versions.find(
    (version) => `${template.launchTemplateId}:${version.versionNumber}` === previous,
  );
  if (earlier !== undefined) return { launchTemplateVersion: renderVersion(template, earlier) };
  const overlay = request.LaunchTemplateData === undefined ? {} : toLaunchData(request.LaunchTemplateData);
  // With SourceVersion, the new version starts from that version's data; each field the request sets replaces it.
  const base =
    request.SourceVersion === undefined ? {} : resolveVersion(template, request.SourceVersion).data;
  const data: LaunchTemplateData = { ...base, ...overlay };
  checkUserData(data.userData);
  const version: LaunchTemplateVersion = {
    versionNumber: template.latestVersion + 1,
    description: request.VersionDescription,
    createTime: new Date().toISOString(),
    data,
  };
  template.versions.push(version);
  template.latestVersion = version.versionNumber;
  rememberCreation(
    state,
    "CreateLaunchTemplateVersion",
    request.ClientToken,
    fingerprint,
    `${template.launchTemplateId}:${version.versionNumber}`,
  );
  await store.save();
  return { launchTemplateVersion: renderVersion(template, version) };
};

const describeTemplatesParams = z.object({
  LaunchTemplateId: queryList(z.string()).optional(),
  LaunchTemplateName: queryList(z.string()).optional(),
  Filter: filterListSchema.optional(),
  MaxResults: queryInt.optional(),
  NextToken: z.string().optional(),
});

export const describeLaunchTemplates: ActionHandler = async ({ state }, params) => {
  const request = parseParams(describeTemplatesParams, params);
  const named = [
    ...(request.LaunchTemplateId ?? []).map((launchTemplateId) =>
      findLaunchTemplate(state, { launchTemplateId }),
    ),
    ...(request.LaunchTemplateName ?? []).map((launchTemplateName) =>
      findLaunchTemplate(state, { launchTemplateName }),
    ),
  ];
  const templates =
    request.LaunchTemplateId === undefined && request.LaunchTemplateName === undefined
      ? Object.values(state.launchTemplates)
      : named;
  const matching = applyFilters(templates, toFilters(request.Filter), (template, name) => {
    if (name === "launch-template-name") return [template.launchTemplateName];
    if (name === "launch-template-id") return [template.launchTemplateId];
    if (name === "create-time") return [template.createTime];
    return tagFilterValues(template.tags, name);
  });
  const page = paginate(
    matching,
    (template) => template.launchTemplateId,
    { maxResults: request.MaxResults, nextToken: request.NextToken },
    { min: 1, max: 200 },
  );
  return { launchTemplates: page.items.map(renderTemplate), nextToken: page.nextToken };
};

const describeVersionsParams = z.object({
  ...templateReferenceParams,
  LaunchTemplateVersion: queryList(z.string()).optional(),
  MinVersion: z
    .string()
    .regex(/^[0-9]+$/)
    .optional(),
  MaxVersion: z
    .string()
    .regex(/^[0-9]+$/)
    .optional(),
  Filter: filterListSchema.optional(),
  MaxResults: queryInt.optional(),
  NextToken: z.string().optional(),
});

export const describeLaunchTemplateVersions: ActionHandler = async ({ state }, params) => {
  const request = parseParams(describeVersionsParams, params);
  const reference = referenceOf(request);
  const templates =
    reference.launchTemplateId === undefined && reference.launchTemplateName === undefined
      ? Object.values(state.launchTemplates)
      : [findLaunchTemplate(state, reference)];
  const min = request.MinVersion === undefined ? 1 : Number(request.MinVersion);
  const max = request.MaxVersion === undefined ? Number.MAX_SAFE_INTEGER : Number(request.MaxVersion);
  const versions = templates.flatMap((template) => {
    const chosen =
      request.LaunchTemplateVersion === undefined
        ? template.versions
        : [...new Set(request.LaunchTemplateVersion.map((spec) => resolveVersion(template, spec)))];
    return chosen
      .filter((version) => version.versionNumber >= min && version.versionNumber <= max)
      .map((version) => ({ template, version }));
  });
  const matching = applyFilters(versions, toFilters(request.Filter), ({ template, version }, name) => {
    if (name === "image-id") return version.data.imageId === undefined ? [] : [version.data.imageId];
    if (name === "instance-type")
      return version.data.instanceType === undefined ? [] : [version.data.instanceType];
    if (name === "is-default-version") return [String(version.versionNumber === template.defaultVersion)];
    return undefined;
  });
  // Newest first, as AWS lists versions.
  const keyOf = ({ template, version }: { template: LaunchTemplate; version: LaunchTemplateVersion }) =>
    `${template.launchTemplateId}:${String(999_999_999 - version.versionNumber).padStart(9, "0")}`;
  const page = paginate(
    matching,
    keyOf,
    { maxResults: request.MaxResults, nextToken: request.NextToken },
    { min: 1, max: 200 },
  );
  return {
    launchTemplateVersionSet: page.items.map(({ template, version }) => renderVersion(template, version)),
    nextToken: page.nextToken,
  };
};

export const modifyLaunchTemplate: ActionHandler = async ({ state, store }, params) => {
  const request = parseParams(
    z.object({ ...templateReferenceParams, SetDefaultVersion: z.string().optional() }),
    params,
  );
  const template = findLaunchTemplate(state, referenceOf(request));
  if (request.SetDefaultVersion !== undefined) {
    template.defaultVersion = resolveVersion(template, request.SetDefaultVersion).versionNumber;
    await store.save();
  }
  return { launchTemplate: renderTemplate(template) };
};

export const deleteLaunchTemplate: ActionHandler = async ({ state, store }, params) => {
  const request = parseParams(z.object(templateReferenceParams), params);
  const template = findLaunchTemplate(state, referenceOf(request));
  delete state.launchTemplates[template.launchTemplateId];
  await store.save();
  return { launchTemplate: renderTemplate(template) };
};
