/**
 * PruneAudit on the history table. A run is one `PRUNE#<id>`/`RUN` item (listed newest first
 * through byKind) plus `PART#nnnn` items holding its per-image lists: a run over thousands of
 * images outgrows DynamoDB's 400 KB item limit. Parts are written first and the RUN item last,
 * so a run that can be listed can be read in full.
 */
import { type DynamoDBDocumentClient, PutCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import * as z from "zod";
import { describeIssues, InvalidInputError } from "../errors.ts";
import type { Page, PruneAudit } from "../ports.ts";
import {
  imageRemovalSchema,
  keptImageSchema,
  type PruneRun,
  type PruneRunSummary,
  pruneRunSchema,
  pruneRunSummarySchema,
} from "../prune/prune-run.ts";
import { callAws } from "./aws-errors.ts";
import { documentClient } from "./clients.ts";
import { historyTableKeys } from "./history-table.ts";
import { decodeCursor, encodeCursor } from "./page-cursor.ts";

/** Errors shown with a run in listings; the full list is in its parts. */
const errorsInSummary = 20;

const errorSchema = pruneRunSummarySchema.shape.errors.unwrap().element;

const partSchema = z.discriminatedUnion("list", [
  z.object({ list: z.literal("removals"), entries: z.array(imageRemovalSchema) }),
  z.object({ list: z.literal("kept"), entries: z.array(keptImageSchema) }),
  z.object({ list: z.literal("errors"), entries: z.array(errorSchema) }),
]);
type Part = z.infer<typeof partSchema>;

const partitionOf = (runId: string) => `PRUNE#${runId}`;

/** Splits entries into parts of at most `maxBytes` of JSON each. */
function split<T>(entries: T[], maxBytes: number): T[][] {
  const parts: T[][] = [];
  let current: T[] = [];
  let size = 0;
  for (const entry of entries) {
    const bytes = Buffer.byteLength(JSON.stringify(entry));
    if (current.length > 0 && size + bytes > maxBytes) {
      parts.push(current);
      current = [];
      size = 0;
    }
    current.push(entry);
    size += bytes;
  }
  if (current.length > 0) parts.push(current);
  return parts;
}

function parseWith<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new InvalidInputError(what, describeIssues(parsed.error.issues));
  return parsed.data;
}

function summaryOf(item: Record<string, unknown>): PruneRunSummary {
  const { pk: _pk, sk: _sk, gsi2pk: _g2, gsi2sk: _g2s, parts: _parts, ...fields } = item;
  return parseWith(pruneRunSummarySchema, fields, `prune run record ${String(item.pk)}`);
}

export interface DynamoPruneAuditOptions {
  /** Largest JSON size of one part item; DynamoDB stores at most 400 KB per item. */
  partBytes?: number;
}

export class DynamoPruneAudit implements PruneAudit {
  private readonly partBytes: number;

  constructor(
    private readonly tableName: string,
    private readonly db: DynamoDBDocumentClient = documentClient(),
    options: DynamoPruneAuditOptions = {},
  ) {
    this.partBytes = options.partBytes ?? 200_000;
  }

  async record(run: PruneRun): Promise<void> {
    const checked = pruneRunSchema.parse(run);
    const parts: Part[] = [
      ...split(checked.removals, this.partBytes).map((entries): Part => ({ list: "removals", entries })),
      ...split(checked.kept, this.partBytes).map((entries): Part => ({ list: "kept", entries })),
      ...split(checked.errors, this.partBytes).map((entries): Part => ({ list: "errors", entries })),
    ];
    const pk = partitionOf(checked.runId);
    for (const [index, part] of parts.entries()) {
      const sk = `PART#${String(index).padStart(4, "0")}`;
      await callAws("PutItem prune run part", () =>
        this.db.send(new PutCommand({ TableName: this.tableName, Item: { pk, sk, ...part } })),
      );
    }
    const { removals: _removals, kept: _kept, errors, ...summary } = checked;
    const item = {
      pk,
      sk: "RUN",
      [historyTableKeys.byKind.partitionKey]: "PRUNE",
      [historyTableKeys.byKind.sortKey]: `${checked.startedAt}#${checked.runId}`,
      ...summary,
      errors: errors.slice(0, errorsInSummary),
      parts: parts.length,
    };
    await callAws("PutItem prune run", () =>
      this.db.send(new PutCommand({ TableName: this.tableName, Item: item })),
    );
  }

  async get(runId: string): Promise<PruneRun | undefined> {
    const items: Array<Record<string, unknown>> = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await callAws("Query prune run", () =>
        this.db.send(
          new QueryCommand({
            TableName: this.tableName,
            KeyConditionExpression: "pk = :pk",
            ExpressionAttributeValues: { ":pk": partitionOf(runId) },
            ConsistentRead: true,
            ExclusiveStartKey: startKey,
          }),
        ),
      );
      items.push(...(page.Items ?? []));
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    const runItem = items.find((item) => item.sk === "RUN");
    if (!runItem) return undefined;
    const summary = summaryOf(runItem);
    const run: PruneRun = { ...summary, errors: [], removals: [], kept: [] };
    const parts = items.filter((item) => typeof item.sk === "string" && item.sk.startsWith("PART#"));
    if (parts.length !== runItem.parts)
      throw new InvalidInputError(`prune run record ${runId}`, [
        `expected ${String(runItem.parts)} parts, found ${parts.length}`,
      ]);
    for (const item of parts.sort((a, b) => String(a.sk).localeCompare(String(b.sk)))) {
      const part = parseWith(
        partSchema,
        { list: item.list, entries: item.entries },
        `prune run part ${runId} ${String(item.sk)}`,
      );
      if (part.list === "removals") run.removals.push(...part.entries);
      else if (part.list === "kept") run.kept.push(...part.entries);
      else run.errors.push(...part.entries);
    }
    return run;
  }

  async list(options: { limit: number; cursor?: string | undefined }): Promise<Page<PruneRunSummary>> {
    const index = historyTableKeys.byKind;
    const result = await callAws("Query prune runs", () =>
      this.db.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: index.name,
          KeyConditionExpression: "#kind = :kind",
          ExpressionAttributeNames: { "#kind": index.partitionKey },
          ExpressionAttributeValues: { ":kind": "PRUNE" },
          ScanIndexForward: false,
          Limit: options.limit,
          ExclusiveStartKey: decodeCursor(options.cursor),
        }),
      ),
    );
    return { items: (result.Items ?? []).map(summaryOf), cursor: encodeCursor(result.LastEvaluatedKey) };
  }
}
