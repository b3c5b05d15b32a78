/**
 * DescribeInstances, DescribeInstanceStatus, StartInstances, StopInstances, TerminateInstances and
 * GetConsoleOutput: the instance as AWS describes it, and the API side of its lifecycle.
 */
import { open, stat } from "node:fs/promises";
import * as z from "zod";
import { ACCOUNT_ID, type ActionHandler, type Ec2Context, hostArchitecture } from "./context.ts";
import { Ec2Error } from "./errors.ts";
import { applyFilters, tagFilterValues } from "./filters.ts";
import { isWellFormedId } from "./ids.ts";
import { INSTANCE_STATE_CODES, type StateChange } from "./instance-lifecycle.ts";
import { paginate } from "./paging.ts";
import { filterListSchema, parseParams, queryBool, queryInt, queryList, toFilters } from "./query-params.ts";
import type { Ec2State, Instance, InstanceStateName } from "./state.ts";
import { renderTags } from "./tags.ts";
import type { XmlObject } from "./xml.ts";

const CONSOLE_OUTPUT_BYTES = 64 * 1024;

function checkInstanceId(instanceId: string): void {
  if (!isWellFormedId("i", instanceId))
    throw new Ec2Error("InvalidInstanceID.Malformed", `Invalid id: "${instanceId}"`);
}

/** An instance by id, failing as AWS does for a malformed or unknown id. */
export function findInstance(state: Ec2State, instanceId: string): Instance {
  checkInstanceId(instanceId);
  const instance = state.instances[instanceId];
  if (instance === undefined)
    throw new Ec2Error("InvalidInstanceID.NotFound", `The instance ID '${instanceId}' does not exist`);
  return instance;
}

/** Instances by id; every unknown id is named in one error, as AWS does. */
export function findInstances(state: Ec2State, instanceIds: string[]): Instance[] {
  for (const id of instanceIds) checkInstanceId(id);
  const missing = instanceIds.filter((id) => state.instances[id] === undefined);
  if (missing.length === 1)
    throw new Ec2Error("InvalidInstanceID.NotFound", `The instance ID '${missing[0]}' does not exist`);
  if (missing.length > 1)
    throw new Ec2Error("InvalidInstanceID.NotFound", `The instance IDs '${missing.join(", ")}' do not exist`);
  return instanceIds.flatMap((id) => state.instances[id] ?? []);
}

function renderState(name: InstanceStateName): XmlObject {
  return { code: INSTANCE_STATE_CODES[name], name };
}

function privateDnsName(instance: Instance): string {
  return instance.privateIpAddress === undefined
    ? ""
    : `ip-${instance.privateIpAddress.replace(/\./g, "-")}.ec2.internal`;
}

/** An instance as EC2's `Instance` shape. */
export function renderInstance(instance: Instance): XmlObject {
  return {
    instanceId: instance.instanceId,
    imageId: instance.imageId,
    instanceState: renderState(instance.state),
    privateDnsName: privateDnsName(instance),
    dnsName: "",
    reason: instance.stateTransitionReason,
    amiLaunchIndex: instance.amiLaunchIndex,
    productCodes: [],
    instanceType: instance.instanceType,
    launchTime: instance.launchTime,
    placement: { availabilityZone: instance.availabilityZone, groupName: "", tenancy: "default" },
    monitoring: { state: "disabled" },
    subnetId: instance.subnetId,
    privateIpAddress: instance.privateIpAddress,
    groupSet: instance.securityGroupIds.map((groupId) => ({ groupId, groupName: groupId })),
    stateReason: instance.stateReason,
    architecture: hostArchitecture(),
    rootDeviceType: "ebs",
    rootDeviceName: "/dev/xvda",
    blockDeviceMapping: instance.volumes
      .filter(() => instance.state !== "terminated")
      .map((volume) => ({
        deviceName: volume.deviceName,
        ebs: {
          volumeId: volume.volumeId,
          status: "attached",
          attachTime: instance.launchTime,
          deleteOnTermination: volume.deleteOnTermination,
        },
      })),
    virtualizationType: "hvm",
    clientToken: instance.clientToken ?? "",
    tagSet: renderTags(instance.tags),
    hypervisor: "xen",
    iamInstanceProfile: instance.iamInstanceProfile,
    ebsOptimized: false,
    enaSupport: true,
    metadataOptions: {
      state: "applied",
      httpTokens: instance.metadataOptions.httpTokens,
      httpPutResponseHopLimit: instance.metadataOptions.httpPutResponseHopLimit,
      httpEndpoint: instance.metadataOptions.httpEndpoint,
      httpProtocolIpv6: "disabled",
      instanceMetadataTags: instance.metadataOptions.instanceMetadataTags,
    },
  };
}

/** Instances grouped into their reservations, in the order given. */
export function renderReservations(instances: Instance[]): XmlObject[] {
  const reservations = new Map<string, Instance[]>();
  for (const instance of instances) {
    const group = reservations.get(instance.reservationId) ?? [];
    group.push(instance);
    reservations.set(instance.reservationId, group);
  }
  return [...reservations].map(([reservationId, members]) => ({
    reservationId,
    ownerId: ACCOUNT_ID,
    groupSet: [],
    instancesSet: members.map(renderInstance),
  }));
}

function instanceFilterValues(instance: Instance, name: string): string[] | undefined {
  const optional = (value: string | undefined) => (value === undefined ? [] : [value]);
  switch (name) {
    case "instance-id":
      return [instance.instanceId];
    case "image-id":
      return [instance.imageId];
    case "instance-state-name":
      return [instance.state];
    case "instance-state-code":
      return [String(INSTANCE_STATE_CODES[instance.state])];
    case "instance-type":
      return [instance.instanceType];
    case "private-ip-address":
    case "network-interface.addresses.private-ip-address":
      return optional(instance.privateIpAddress);
    case "private-dns-name":
      return [privateDnsName(instance)];
    case "reservation-id":
      return [instance.reservationId];
    case "client-token":
      return optional(instance.clientToken);
    case "subnet-id":
      return optional(instance.subnetId);
    case "availability-zone":
      return [instance.availabilityZone];
    case "iam-instance-profile.arn":
      return optional(instance.iamInstanceProfile?.arn);
    case "instance.group-id":
      return instance.securityGroupIds;
    case "launch-time":
      return [instance.launchTime];
    case "owner-id":
      return [ACCOUNT_ID];
    case "metadata-options.http-tokens":
      return [instance.metadataOptions.httpTokens];
    default:
      return tagFilterValues(instance.tags, name);
  }
}

const describeInstancesParams = z.object({
  InstanceId: queryList(z.string()).optional(),
  Filter: filterListSchema.optional(),
  MaxResults: queryInt.optional(),
  NextToken: z.string().optional(),
});

export const describeInstances: ActionHandler = async ({ state }, params) => {
  const request = parseParams(describeInstancesParams, params);
  if (request.InstanceId !== undefined && request.MaxResults !== undefined) {
    throw new Ec2Error(
      "InvalidParameterCombination",
      "The parameter instancesSet cannot be used with the parameter maxResults",
    );
  }
  const instances =
    request.InstanceId === undefined
      ? Object.values(state.instances)
      : findInstances(state, request.InstanceId);
  const matching = applyFilters(instances, toFilters(request.Filter), instanceFilterValues);
  const page = paginate(
    matching,
    (instance) => instance.instanceId,
    { maxResults: request.MaxResults, nextToken: request.NextToken },
    { min: 5, max: 1000 },
  );
  return { reservationSet: renderReservations(page.items), nextToken: page.nextToken };
};

const detailStatus: Record<string, string> = {
  ok: "passed",
  impaired: "failed",
  initializing: "initializing",
};

function renderStatus(context: Ec2Context, instance: Instance): XmlObject {
  const health = context.lifecycle.health(instance);
  const summary = (status: string, impairedSince?: Date): XmlObject => ({
    status,
    details:
      status === "not-applicable"
        ? []
        : [{ name: "reachability", status: detailStatus[status] ?? status, impairedSince }],
  });
  return {
    instanceId: instance.instanceId,
    availabilityZone: instance.availabilityZone,
    instanceState: renderState(instance.state),
    systemStatus: summary(health.system),
    instanceStatus: summary(health.instance, health.impairedSince),
    eventsSet: [],
  };
}

const describeInstanceStatusParams = z.object({
  InstanceId: queryList(z.string()).optional(),
  IncludeAllInstances: queryBool.optional(),
  Filter: filterListSchema.optional(),
  MaxResults: queryInt.optional(),
  NextToken: z.string().optional(),
});

export const describeInstanceStatus: ActionHandler = async (context, params) => {
  const request = parseParams(describeInstanceStatusParams, params);
  const { state } = context;
  const instances =
    request.InstanceId === undefined
      ? Object.values(state.instances)
      : findInstances(state, request.InstanceId);
  // Without IncludeAllInstances, AWS reports running instances only.
  const shown =
    request.IncludeAllInstances === true
      ? instances
      : instances.filter((instance) => instance.state === "running");
  const matching = applyFilters(shown, toFilters(request.Filter), (instance, name) => {
    const health = context.lifecycle.health(instance);
    if (name === "instance-state-name") return [instance.state];
    if (name === "instance-state-code") return [String(INSTANCE_STATE_CODES[instance.state])];
    if (name === "instance-status.status") return [health.instance];
    if (name === "system-status.status") return [health.system];
    if (name === "availability-zone") return [instance.availabilityZone];
    return undefined;
  });
  const page = paginate(
    matching,
    (instance) => instance.instanceId,
    { maxResults: request.MaxResults, nextToken: request.NextToken },
    { min: 5, max: 1000 },
  );
  return {
    instanceStatusSet: page.items.map((instance) => renderStatus(context, instance)),
    nextToken: page.nextToken,
  };
};

function renderStateChange(change: StateChange): XmlObject {
  return {
    instanceId: change.instanceId,
    currentState: renderState(change.currentState),
    previousState: renderState(change.previousState),
  };
}

const instanceIdsParams = z.object({ InstanceId: queryList(z.string()), Force: queryBool.optional() });

/** The three state-changing actions share one shape: ids in, state changes out. */
function stateChangeAction(change: (context: Ec2Context, instance: Instance) => StateChange): ActionHandler {
  return async (context, params) => {
    const request = parseParams(instanceIdsParams, params);
    const instances = findInstances(context.state, request.InstanceId);
    const changes = instances.map((instance) => change(context, instance));
    await context.store.save();
    return { instancesSet: changes.map(renderStateChange) };
  };
}

export const startInstances = stateChangeAction(({ lifecycle }, instance) => lifecycle.start(instance));
export const stopInstances = stateChangeAction(({ lifecycle }, instance) => lifecycle.stop(instance));
export const terminateInstances = stateChangeAction(({ lifecycle }, instance) =>
  lifecycle.terminate(instance),
);

async function consoleTail(file: string): Promise<{ output?: string; timestamp: Date }> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(file, "r");
  } catch {
    return { timestamp: new Date() };
  }
  try {
    const { size, mtime } = await stat(file);
    const length = Math.min(size, CONSOLE_OUTPUT_BYTES);
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, size - length);
    return { output: buffer.toString("base64"), timestamp: mtime };
  } finally {
    await handle.close();
  }
}

export const getConsoleOutput: ActionHandler = async ({ state, paths }, params) => {
  const request = parseParams(z.object({ InstanceId: z.string(), Latest: queryBool.optional() }), params);
  const instance = findInstance(state, request.InstanceId);
  const { output, timestamp } = await consoleTail(paths.instance(instance.instanceId).consoleLog);
  return { instanceId: instance.instanceId, timestamp, output };
};
