/** DescribeVolumes: the root and extra volumes of instances, where their encryption and size show. */
import * as z from "zod";
import { ACCOUNT_ID, type ActionHandler } from "./context.ts";
import { Ec2Error } from "./errors.ts";
import { applyFilters, tagFilterValues } from "./filters.ts";
import { paginate } from "./paging.ts";
import { filterListSchema, parseParams, queryInt, queryList, toFilters } from "./query-params.ts";
import type { Instance, Volume } from "./state.ts";
import { renderTags } from "./tags.ts";
import type { XmlObject } from "./xml.ts";

interface AttachedVolume {
  volume: Volume;
  instance: Instance;
}

/** A volume stays attached until its instance is terminated; kept volumes are then available. */
function isAttached({ instance }: AttachedVolume): boolean {
  return instance.state !== "terminated";
}

function renderVolume(entry: AttachedVolume): XmlObject {
  const { volume, instance } = entry;
  return {
    volumeId: volume.volumeId,
    size: volume.size,
    snapshotId: volume.snapshotId ?? "",
    availabilityZone: instance.availabilityZone,
    status: isAttached(entry) ? "in-use" : "available",
    createTime: volume.createTime,
    attachmentSet: isAttached(entry)
      ? [
          {
            volumeId: volume.volumeId,
            instanceId: instance.instanceId,
            device: volume.deviceName,
            status: "attached",
            attachTime: instance.launchTime,
            deleteOnTermination: volume.deleteOnTermination,
          },
        ]
      : [],
    volumeType: volume.volumeType,
    encrypted: volume.encrypted,
    kmsKeyId: volume.kmsKeyId,
    multiAttachEnabled: false,
    ownerId: ACCOUNT_ID,
    tagSet: renderTags(volume.tags),
  };
}

const describeVolumesParams = z.object({
  VolumeId: queryList(z.string()).optional(),
  Filter: filterListSchema.optional(),
  MaxResults: queryInt.optional(),
  NextToken: z.string().optional(),
});

export const describeVolumes: ActionHandler = async ({ state }, params) => {
  const request = parseParams(describeVolumesParams, params);
  const all = Object.values(state.instances).flatMap((instance) =>
    instance.volumes.map((volume) => ({ volume, instance })),
  );
  const missing = request.VolumeId?.find((id) => !all.some((entry) => entry.volume.volumeId === id));
  if (missing !== undefined)
    throw new Ec2Error("InvalidVolume.NotFound", `The volume '${missing}' does not exist.`);
  const chosen =
    request.VolumeId === undefined
      ? all
      : all.filter((entry) => request.VolumeId?.includes(entry.volume.volumeId));
  const matching = applyFilters(chosen, toFilters(request.Filter), (entry, name) => {
    if (name === "volume-id") return [entry.volume.volumeId];
    if (name === "attachment.instance-id") return isAttached(entry) ? [entry.instance.instanceId] : [];
    if (name === "status") return [isAttached(entry) ? "in-use" : "available"];
    if (name === "encrypted") return [String(entry.volume.encrypted)];
    if (name === "size") return [String(entry.volume.size)];
    if (name === "snapshot-id") return entry.volume.snapshotId === undefined ? [] : [entry.volume.snapshotId];
    if (name === "volume-type") return [entry.volume.volumeType];
    return tagFilterValues(entry.volume.tags, name);
  });
  const page = paginate(
    matching,
    (entry) => entry.volume.volumeId,
    { maxResults: request.MaxResults, nextToken: request.NextToken },
    { min: 5, max: 1000 },
  );
  return { volumeSet: page.items.map(renderVolume), nextToken: page.nextToken };
};
