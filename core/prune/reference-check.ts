/**
 * Turns a reference scan into image references, and checks it is complete before anything is
 * deleted. A scan that returns fewer references than the managed groups imply is treated as a
 * failed look-up: every managed group must show the image of the template version it launches
 * from and every instance it lists. The only safe answer to "I could not see" is "delete nothing".
 */
import type { GroupReferences, ReferenceScan, TemplateVersionImage } from "../ports.ts";
import type { ImageReference } from "./selection.ts";

/** A registered service's group, as its config names it. */
export interface ManagedGroup {
  service: string;
  groupName: string;
  launchTemplateId: string;
}

export interface ReferenceCheck {
  references: ImageReference[];
  /** Every way the scan falls short; any problem aborts the run. */
  problems: string[];
}

const imageIdPattern = /^ami-[0-9a-zA-Z]+$/;

function isImageId(value: string | undefined): boolean {
  return value !== undefined && imageIdPattern.test(value);
}

/** The version a group's `Version` field stands for: a number, `$Latest` or `$Default`. */
function resolveVersion(versions: TemplateVersionImage[], named: string): TemplateVersionImage | undefined {
  if (named === "$Latest")
    return versions.reduce<TemplateVersionImage | undefined>(
      (latest, v) => (!latest || v.versionNumber > latest.versionNumber ? v : latest),
      undefined,
    );
  if (named === "$Default") return versions.find((version) => version.isDefault);
  return versions.find((version) => String(version.versionNumber) === named);
}

function checkGroup(
  scan: ReferenceScan,
  managed: ManagedGroup,
  group: GroupReferences,
  problems: string[],
): void {
  const label = `group "${group.groupName}" of ${managed.service}`;
  if (group.launchTemplates.length === 0)
    problems.push(`${label} launches from no launch template Kiln can read`);
  for (const template of group.launchTemplates) {
    const versions = scan.templateVersions[template.launchTemplateId] ?? [];
    if (versions.length === 0) {
      problems.push(`launch template ${template.launchTemplateId} of ${label} returned no versions`);
      continue;
    }
    const current = resolveVersion(versions, template.version);
    if (!current) {
      problems.push(
        `${label} launches from ${template.launchTemplateId} version ${template.version}, which the listing did not return`,
      );
    } else if (!isImageId(current.imageId)) {
      problems.push(
        `${label} launches from ${template.launchTemplateId} version ${current.versionNumber}, whose image (${current.imageId ?? "none"}) cannot be told`,
      );
    }
  }
  const instances = new Map(scan.instances.map((instance) => [instance.instanceId, instance]));
  for (const instanceId of group.instanceIds) {
    const instance = instances.get(instanceId);
    if (!instance) problems.push(`instance ${instanceId} of ${label} is missing from the instance listing`);
    else if (instance.state !== "terminated" && !isImageId(instance.imageId))
      problems.push(`instance ${instanceId} of ${label} shows no image id`);
  }
}

/** The image references in a scan, and every way the scan falls short of the managed groups. */
export function collectReferences(scan: ReferenceScan, managedGroups: ManagedGroup[]): ReferenceCheck {
  const problems: string[] = [];
  const groups = new Map(scan.groups.map((group) => [group.groupName, group]));
  for (const managed of managedGroups) {
    const group = groups.get(managed.groupName);
    if (!group) problems.push(`group "${managed.groupName}" of ${managed.service} was not found`);
    else checkGroup(scan, managed, group, problems);
    if ((scan.templateVersions[managed.launchTemplateId] ?? []).length === 0) {
      problems.push(
        `launch template ${managed.launchTemplateId} registered for ${managed.service} returned no versions`,
      );
    }
  }

  const references: ImageReference[] = [];
  for (const [launchTemplateId, versions] of Object.entries(scan.templateVersions)) {
    for (const version of versions) {
      const source = `launch template ${launchTemplateId} version ${version.versionNumber}`;
      if (version.imageId !== undefined && isImageId(version.imageId))
        references.push({ imageId: version.imageId, source });
      // Any version may be launched again (a rollback, an operator): an image Kiln cannot resolve
      // might be one of its own.
      else if (version.imageId?.startsWith("resolve:"))
        problems.push(`${source} takes its image from ${version.imageId}, which Kiln cannot resolve`);
    }
  }
  for (const instance of scan.instances) {
    if (instance.state !== "terminated" && instance.imageId !== undefined && isImageId(instance.imageId)) {
      references.push({ imageId: instance.imageId, source: `instance ${instance.instanceId}` });
    }
  }
  return { references, problems: [...new Set(problems)].sort() };
}
