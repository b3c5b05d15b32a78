/** DescribeSnapshots and DeleteSnapshot: the snapshots CreateImage records for each image. */
import * as z from "zod";
import { ACCOUNT_ID, type ActionHandler } from "./context.ts";
import { Ec2Error } from "./errors.ts";
import { applyFilters, tagFilterValues } from "./filters.ts";
import { isWellFormedId } from "./ids.ts";
import { paginate } from "./paging.ts";
import { filterListSchema, parseParams, queryInt, queryList, toFilters } from "./query-params.ts";
import type { Ec2State, Snapshot } from "./state.ts";
import { renderTags } from "./tags.ts";
import type { XmlObject } from "./xml.ts";

function findSnapshot(state: Ec2State, snapshotId: string): Snapshot {
  if (!isWellFormedId("snap", snapshotId))
    throw new Ec2Error("InvalidSnapshotID.Malformed", `Invalid id: "${snapshotId}" (expecting "snap-...")`);
  const snapshot = state.snapshots[snapshotId];
  if (snapshot === undefined)
    throw new Ec2Error("InvalidSnapshot.NotFound", `The snapshot '${snapshotId}' does not exist.`);
  return snapshot;
}

function renderSnapshot(snapshot: Snapshot): XmlObject {
  return {
    snapshotId: snapshot.snapshotId,
    volumeId: snapshot.volumeId,
    status: snapshot.state,
    statusMessage: snapshot.stateMessage,
    startTime: snapshot.startTime,
    progress: snapshot.state === "completed" ? "100%" : "0%",
    ownerId: ACCOUNT_ID,
    volumeSize: snapshot.volumeSize,
    description: snapshot.description,
    encrypted: snapshot.encrypted,
    kmsKeyId: snapshot.kmsKeyId,
    storageTier: "standard",
    tagSet: renderTags(snapshot.tags),
  };
}

function snapshotFilterValues(snapshot: Snapshot, name: string): string[] | undefined {
  switch (name) {
    case "snapshot-id":
      return [snapshot.snapshotId];
    case "status":
      return [snapshot.state];
    case "volume-id":
      return [snapshot.volumeId];
    case "volume-size":
      return [String(snapshot.volumeSize)];
    case "owner-id":
      return [ACCOUNT_ID];
    case "description":
      return [snapshot.description];
    case "encrypted":
      return [String(snapshot.encrypted)];
    case "start-time":
      return [snapshot.startTime];
    default:
      return tagFilterValues(snapshot.tags, name);
  }
}

const describeSnapshotsParams = z.object({
  SnapshotId: queryList(z.string()).optional(),
  Owner: queryList(z.string()).optional(),
  RestorableBy: queryList(z.string()).optional(),
  Filter: filterListSchema.optional(),
  MaxResults: queryInt.optional(),
  NextToken: z.string().optional(),
});

export const describeSnapshots: ActionHandler = async ({ state }, params) => {
  const request = parseParams(describeSnapshotsParams, params);
  let snapshots =
    request.SnapshotId === undefined
      ? Object.values(state.snapshots)
      : request.SnapshotId.map((id) => findSnapshot(state, id));
  if (request.Owner !== undefined && !request.Owner.some((owner) => owner === "self" || owner === ACCOUNT_ID))
    snapshots = [];
  const matching = applyFilters(snapshots, toFilters(request.Filter), snapshotFilterValues);
  const page = paginate(
    matching,
    (snapshot) => snapshot.snapshotId,
    { maxResults: request.MaxResults, nextToken: request.NextToken },
    { min: 5, max: 1000 },
  );
  return { snapshotSet: page.items.map(renderSnapshot), nextToken: page.nextToken };
};

export const deleteSnapshot: ActionHandler = async ({ state, store }, params) => {
  const request = parseParams(z.object({ SnapshotId: z.string() }), params);
  const snapshot = findSnapshot(state, request.SnapshotId);
  const user = Object.values(state.images).find((image) =>
    image.blockDevices.some((device) => device.snapshotId === snapshot.snapshotId),
  );
  if (user !== undefined) {
    throw new Ec2Error(
      "InvalidSnapshot.InUse",
      `The snapshot ${snapshot.snapshotId} is currently in use by ${user.imageId}`,
    );
  }
  delete state.snapshots[snapshot.snapshotId];
  await store.save();
  return { return: true };
};
