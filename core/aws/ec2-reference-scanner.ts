/**
 * ReferenceScanner on Auto Scaling and EC2: what the managed groups launch from (every version of
 * their launch templates, not only the one in use: a rollback or an operator may launch any of
 * them) and what every live instance runs. The number of calls grows with pages and templates,
 * never with images.
 */
import {
  type AutoScalingClient,
  type AutoScalingGroup,
  DescribeAutoScalingGroupsCommand,
} from "@aws-sdk/client-auto-scaling";
import {
  DescribeInstancesCommand,
  DescribeLaunchTemplateVersionsCommand,
  type EC2Client,
  type Instance,
} from "@aws-sdk/client-ec2";
import type {
  GroupReferences,
  InstanceImage,
  InstanceState,
  ReferenceScan,
  ReferenceScanner,
  TemplateVersionImage,
} from "../ports.ts";
import { callAws } from "./aws-errors.ts";
import { autoScalingClient, ec2Client } from "./clients.ts";

export interface ReferenceScannerPageSizes {
  /** DescribeAutoScalingGroups records per page (1–100). */
  groups: number;
  /** DescribeLaunchTemplateVersions versions per page (1–200). */
  versions: number;
  /** DescribeInstances instances per page (5–1000). */
  instances: number;
}

const defaultPageSizes: ReferenceScannerPageSizes = { groups: 100, versions: 200, instances: 1000 };

// DescribeAutoScalingGroups takes a bounded list of names; DescribeInstances by id likewise.
const namesPerCall = 50;
const idsPerCall = 100;

const liveStates: InstanceState[] = ["pending", "running", "shutting-down", "stopping", "stopped"];
const instanceStates: readonly string[] = [...liveStates, "terminated"];

function isInstanceState(name: string): name is InstanceState {
  return instanceStates.includes(name);
}

function chunks<T>(items: T[], size: number): T[][] {
  const result: T[][] = [];
  for (let start = 0; start < items.length; start += size) result.push(items.slice(start, start + size));
  return result;
}

/** Pages through a listing until it ends, refusing a token it has already seen. */
async function readAllPages<P>(
  what: string,
  fetchPage: (token: string | undefined) => Promise<P & { NextToken?: string | undefined }>,
): Promise<P[]> {
  const pages: P[] = [];
  const seen = new Set<string>();
  let token: string | undefined;
  do {
    const page = await callAws(what, () => fetchPage(token));
    pages.push(page);
    token = page.NextToken || undefined;
    if (token !== undefined && seen.has(token))
      throw new Error(`${what} returned the page token ${token} twice`);
    if (token !== undefined) seen.add(token);
  } while (token !== undefined);
  return pages;
}

/** Every launch template a group launches from, with the version as the group names it. */
function templatesOf(group: AutoScalingGroup): GroupReferences["launchTemplates"] {
  const specs = [
    group.LaunchTemplate,
    group.MixedInstancesPolicy?.LaunchTemplate?.LaunchTemplateSpecification,
    ...(group.MixedInstancesPolicy?.LaunchTemplate?.Overrides ?? []).map(
      (override) => override.LaunchTemplateSpecification,
    ),
  ];
  const found = new Map<string, { launchTemplateId: string; version: string }>();
  for (const spec of specs) {
    if (!spec?.LaunchTemplateId) continue;
    // AWS uses the default version when a group names none.
    const version = spec.Version ?? "$Default";
    found.set(`${spec.LaunchTemplateId}@${version}`, { launchTemplateId: spec.LaunchTemplateId, version });
  }
  return [...found.values()];
}

function toInstanceImage(instance: Instance): InstanceImage {
  const state = instance.State?.Name ?? "";
  // An unknown state is taken as live: the image it runs stays referenced.
  return {
    instanceId: instance.InstanceId ?? "",
    imageId: instance.ImageId,
    state: isInstanceState(state) ? state : "pending",
  };
}

export class Ec2ReferenceScanner implements ReferenceScanner {
  private readonly pageSizes: ReferenceScannerPageSizes;

  constructor(
    private readonly autoScaling: AutoScalingClient = autoScalingClient(),
    private readonly ec2: EC2Client = ec2Client(),
    pageSizes: Partial<ReferenceScannerPageSizes> = {},
  ) {
    this.pageSizes = { ...defaultPageSizes, ...pageSizes };
  }

  async scan(targets: Array<{ groupName: string; launchTemplateId: string }>): Promise<ReferenceScan> {
    const groups = await this.describeGroups([...new Set(targets.map((target) => target.groupName))]);
    const templateIds = new Set([
      ...targets.map((target) => target.launchTemplateId),
      ...groups.flatMap((group) => group.launchTemplates.map((template) => template.launchTemplateId)),
    ]);
    const templateVersions: Record<string, TemplateVersionImage[]> = {};
    for (const launchTemplateId of [...templateIds].sort())
      templateVersions[launchTemplateId] = await this.listVersions(launchTemplateId);

    // Listed after the groups: an instance a group named since is found below by its id.
    const instances = await this.listLiveInstances();
    const listed = new Set(instances.map((instance) => instance.instanceId));
    const missing = [...new Set(groups.flatMap((group) => group.instanceIds))].filter(
      (id) => !listed.has(id),
    );
    for (const ids of chunks(missing, idsPerCall)) instances.push(...(await this.describeInstances(ids)));
    return { groups, templateVersions, instances };
  }

  private async describeGroups(names: string[]): Promise<GroupReferences[]> {
    const groups: GroupReferences[] = [];
    for (const batch of chunks(names, namesPerCall)) {
      const pages = await readAllPages("DescribeAutoScalingGroups", (token) =>
        this.autoScaling.send(
          new DescribeAutoScalingGroupsCommand({
            AutoScalingGroupNames: batch,
            MaxRecords: this.pageSizes.groups,
            NextToken: token,
          }),
        ),
      );
      for (const group of pages.flatMap((page) => page.AutoScalingGroups ?? [])) {
        if (!group.AutoScalingGroupName) continue;
        groups.push({
          groupName: group.AutoScalingGroupName,
          launchTemplates: templatesOf(group),
          instanceIds: (group.Instances ?? []).flatMap((instance) =>
            instance.InstanceId ? [instance.InstanceId] : [],
          ),
        });
      }
    }
    return groups;
  }

  private async listVersions(launchTemplateId: string): Promise<TemplateVersionImage[]> {
    const pages = await readAllPages(`DescribeLaunchTemplateVersions ${launchTemplateId}`, (token) =>
      this.ec2.send(
        new DescribeLaunchTemplateVersionsCommand({
          LaunchTemplateId: launchTemplateId,
          MaxResults: this.pageSizes.versions,
          NextToken: token,
        }),
      ),
    );
    return pages
      .flatMap((page) => page.LaunchTemplateVersions ?? [])
      .flatMap((version) =>
        version.VersionNumber === undefined
          ? []
          : [
              {
                launchTemplateId,
                versionNumber: version.VersionNumber,
                isDefault: version.DefaultVersion === true,
                imageId: version.LaunchTemplateData?.ImageId,
              },
            ],
      );
  }

  private async listLiveInstances(): Promise<InstanceImage[]> {
    const pages = await readAllPages("DescribeInstances", (token) =>
      this.ec2.send(
        new DescribeInstancesCommand({
          Filters: [{ Name: "instance-state-name", Values: liveStates }],
          MaxResults: this.pageSizes.instances,
          NextToken: token,
        }),
      ),
    );
    return pages
      .flatMap((page) => (page.Reservations ?? []).flatMap((reservation) => reservation.Instances ?? []))
      .map(toInstanceImage);
  }

  private async describeInstances(instanceIds: string[]): Promise<InstanceImage[]> {
    const pages = await readAllPages("DescribeInstances by id", (token) =>
      this.ec2.send(new DescribeInstancesCommand({ InstanceIds: instanceIds, NextToken: token })),
    );
    return pages
      .flatMap((page) => (page.Reservations ?? []).flatMap((reservation) => reservation.Instances ?? []))
      .map(toInstanceImage);
  }
}
