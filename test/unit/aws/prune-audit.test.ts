import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, PutCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { DynamoPruneAudit } from "../../../core/aws/dynamo-prune-audit.ts";
import { InvalidInputError } from "../../../core/errors.ts";
import type { PruneRun } from "../../../core/prune/prune-run.ts";

const db = DynamoDBDocumentClient.from(new DynamoDBClient({ region: "us-east-1" }));
const mock = mockClient(db);

beforeEach(() => mock.reset());

function run(images: number): PruneRun {
  return {
    runId: "pr-20300615-120000-0a1b2c3d",
    startedAt: "2030-06-15T12:00:00.000Z",
    endedAt: "2030-06-15T12:00:05.000Z",
    trigger: { kind: "schedule" },
    dryRun: false,
    outcome: "COMPLETED_WITH_ERRORS",
    abortReasons: [],
    counts: {
      images: images * 2,
      selected: images,
      removed: images - 1,
      snapshotsDeleted: images - 1,
      kept: images,
      errors: 1,
    },
    errors: [{ imageId: "ami-00000000000000000", message: "UnauthorizedOperation" }],
    removals: Array.from({ length: images }, (_, index) => ({
      imageId: `ami-${String(index).padStart(17, "0")}`,
      service: "web",
      name: `kiln-web-${index}`,
      createdAt: "2030-01-01T00:00:00.000Z",
      why: "deployed image, 165 days old, not among the 5 newest deployed, not referenced, pinned or in flight",
      snapshotIds: [`snap-${index}`],
      status: index === 0 ? ("failed" as const) : ("removed" as const),
      deletedSnapshotIds: index === 0 ? [] : [`snap-${index}`],
      ...(index === 0 ? { detail: "UnauthorizedOperation" } : {}),
    })),
    kept: Array.from({ length: images }, (_, index) => ({
      imageId: `ami-1${String(index).padStart(16, "0")}`,
      service: "web",
      reasons: [{ code: "referenced" as const, detail: `used by instance i-${index}` }],
    })),
  };
}

describe("DynamoPruneAudit", () => {
  it("writes the per-image lists in parts under the run's partition, then the listable RUN item", async () => {
    mock.on(PutCommand).resolves({});
    await new DynamoPruneAudit("kiln", db, { partBytes: 2_000 }).record(run(20));
    const items = mock.commandCalls(PutCommand).map((call) => call.args[0].input.Item ?? {});
    expect(items.every((item) => item.pk === "PRUNE#pr-20300615-120000-0a1b2c3d")).toBe(true);
    const last = items.at(-1);
    expect(last).toMatchObject({
      sk: "RUN",
      gsi2pk: "PRUNE",
      gsi2sk: "2030-06-15T12:00:00.000Z#pr-20300615-120000-0a1b2c3d",
      outcome: "COMPLETED_WITH_ERRORS",
    });
    expect(last).not.toHaveProperty("removals");
    expect(last).not.toHaveProperty("kept");
    const parts = items.slice(0, -1);
    expect(last?.parts).toBe(parts.length);
    expect(parts.map((part) => part.sk)).toEqual(
      parts.map((_, index) => `PART#${String(index).padStart(4, "0")}`),
    );
    for (const part of parts)
      expect(Buffer.byteLength(JSON.stringify(part.entries))).toBeLessThanOrEqual(2_000 + 300);
    expect(parts.filter((part) => part.list === "removals").flatMap((part) => part.entries)).toHaveLength(20);
    expect(parts.filter((part) => part.list === "kept").flatMap((part) => part.entries)).toHaveLength(20);
  });

  it("reads back exactly the run it recorded", async () => {
    const items: Array<Record<string, unknown>> = [];
    mock.on(PutCommand).callsFake((input: { Item: Record<string, unknown> }) => {
      items.push(input.Item);
      return {};
    });
    const audit = new DynamoPruneAudit("kiln", db, { partBytes: 1_500 });
    const recorded = run(12);
    await audit.record(recorded);
    // DynamoDB returns a partition's items in sort key order, a page at a time.
    const sorted = [...items].sort((a, b) => String(a.sk).localeCompare(String(b.sk)));
    mock
      .on(QueryCommand)
      .resolvesOnce({ Items: sorted.slice(0, 3), LastEvaluatedKey: { pk: "x", sk: "y" } })
      .resolvesOnce({ Items: sorted.slice(3) });
    expect(await audit.get(recorded.runId)).toEqual(recorded);
    expect(mock.commandCalls(QueryCommand)[0]?.args[0].input).toMatchObject({
      TableName: "kiln",
      KeyConditionExpression: "pk = :pk",
      ExpressionAttributeValues: { ":pk": `PRUNE#${recorded.runId}` },
      ConsistentRead: true,
    });
  });

  it("finds no run where none was recorded", async () => {
    mock.on(QueryCommand).resolves({ Items: [] });
    expect(await new DynamoPruneAudit("kiln", db).get("pr-20300615-120000-00000000")).toBeUndefined();
  });

  it("refuses a run whose parts are not all there", async () => {
    mock
      .on(QueryCommand)
      .resolves({ Items: [{ pk: "PRUNE#pr-20300615-120000-0a1b2c3d", sk: "RUN", ...run(0), parts: 2 }] });
    await expect(new DynamoPruneAudit("kiln", db).get("pr-20300615-120000-0a1b2c3d")).rejects.toBeInstanceOf(
      InvalidInputError,
    );
  });

  it("lists runs newest first through the byKind index, without their per-image lists", async () => {
    const { removals: _removals, kept: _kept, ...summary } = run(1);
    mock.on(QueryCommand).resolves({
      Items: [
        { pk: `PRUNE#${summary.runId}`, sk: "RUN", gsi2pk: "PRUNE", gsi2sk: "x", parts: 3, ...summary },
      ],
      LastEvaluatedKey: { pk: `PRUNE#${summary.runId}`, sk: "RUN", gsi2pk: "PRUNE", gsi2sk: "x" },
    });
    const page = await new DynamoPruneAudit("kiln", db).list({ limit: 10 });
    expect(page.items).toEqual([summary]);
    expect(page.cursor).toEqual(expect.any(String));
    expect(mock.commandCalls(QueryCommand)[0]?.args[0].input).toMatchObject({
      IndexName: "byKind",
      ExpressionAttributeValues: { ":kind": "PRUNE" },
      ScanIndexForward: false,
      Limit: 10,
    });
  });
});
