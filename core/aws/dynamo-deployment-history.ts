/** DeploymentHistory on DynamoDB: one item per deployment, conditional writes for every status move. */
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import {
  type Deployment,
  type DeploymentChanges,
  type DeploymentStatus,
  deploymentSchema,
  type StepName,
  type StepRecord,
  statusesAllowedBefore,
  stepStartedBy,
  terminalStatuses,
} from "../deployment.ts";
import {
  DeploymentNotFoundError,
  describeIssues,
  InvalidInputError,
  InvalidTransitionError,
} from "../errors.ts";
import type { Clock, DeploymentHistory, Page } from "../ports.ts";
import { systemClock } from "../ports.ts";
import { callAws, isAwsError } from "./aws-errors.ts";
import { documentClient } from "./clients.ts";
import { historyTableKeys } from "./history-table.ts";
import { decodeCursor, encodeCursor } from "./page-cursor.ts";

const keyOf = (id: string) => ({ pk: `DEP#${id}`, sk: "DEP" });

function parseDeployment(item: Record<string, unknown>): Deployment {
  const { pk: _pk, sk: _sk, gsi1pk: _g1, gsi1sk: _g1s, gsi2pk: _g2, gsi2sk: _g2s, ...fields } = item;
  const parsed = deploymentSchema.safeParse(fields);
  if (!parsed.success)
    throw new InvalidInputError(`deployment record ${String(item.pk)}`, describeIssues(parsed.error.issues));
  return parsed.data;
}

/** SET clauses for a set of changes, with their names and values. */
function setClauses(changes: Record<string, unknown>, prefix: string) {
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = {};
  const clauses: string[] = [];
  for (const [field, value] of Object.entries(changes)) {
    if (value === undefined) continue;
    names[`#${prefix}${field}`] = field;
    values[`:${prefix}${field}`] = value;
    clauses.push(`#${prefix}${field} = :${prefix}${field}`);
  }
  return { names, values, clauses };
}

/** SET clauses recording whole step records, each only where its step has none yet. */
function stepClauses(steps: Partial<Record<StepName, StepRecord>>) {
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = {};
  const clauses: string[] = [];
  for (const [step, record] of Object.entries(steps)) {
    if (record === undefined) continue;
    names["#steps"] = "steps";
    names[`#s${step}`] = step;
    values[`:s${step}`] = record;
    clauses.push(`#steps.#s${step} = if_not_exists(#steps.#s${step}, :s${step})`);
  }
  return { names, values, clauses };
}

export class DynamoDeploymentHistory implements DeploymentHistory {
  constructor(
    private readonly tableName: string,
    private readonly db: DynamoDBDocumentClient = documentClient(),
    private readonly clock: Clock = systemClock,
  ) {}

  async create(deployment: Deployment): Promise<{ created: boolean; deployment: Deployment }> {
    const sortKey = `${deployment.requestedAt}#${deployment.id}`;
    const item = {
      ...keyOf(deployment.id),
      gsi1pk: `SVC#${deployment.service}`,
      gsi1sk: sortKey,
      gsi2pk: "DEP",
      gsi2sk: sortKey,
      ...deploymentSchema.parse(deployment),
    };
    try {
      await callAws("PutItem deployment", () =>
        this.db.send(
          new PutCommand({
            TableName: this.tableName,
            Item: item,
            ConditionExpression: "attribute_not_exists(pk)",
          }),
        ),
      );
      return { created: true, deployment };
    } catch (error) {
      if (!isAwsError(error, "ConditionalCheckFailedException")) throw error;
      const existing = await this.get(deployment.id);
      if (!existing) throw error;
      return { created: false, deployment: existing };
    }
  }

  async get(id: string): Promise<Deployment | undefined> {
    const result = await callAws("GetItem deployment", () =>
      this.db.send(new GetCommand({ TableName: this.tableName, Key: keyOf(id), ConsistentRead: true })),
    );
    return result.Item ? parseDeployment(result.Item) : undefined;
  }

  async transition(
    id: string,
    status: DeploymentStatus,
    changes: DeploymentChanges = {},
    note?: string,
  ): Promise<Deployment> {
    const now = this.clock.now().toISOString();
    const from = statusesAllowedBefore(status).filter((candidate) => candidate !== status);
    const set = setClauses(
      { ...changes, updatedAt: now, ...(terminalStatuses.has(status) ? { endedAt: now } : {}) },
      "c",
    );
    const startedStep = stepStartedBy[status];
    const step = stepClauses(startedStep ? { [startedStep]: { startedAt: now } } : {});
    const statusValues = Object.fromEntries(from.map((candidate, index) => [`:from${index}`, candidate]));
    try {
      const result = await callAws("UpdateItem deployment status", () =>
        this.db.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: keyOf(id),
            UpdateExpression: `SET ${["#status = :status", "#timeline = list_append(#timeline, :entry)", ...set.clauses, ...step.clauses].join(", ")}`,
            ConditionExpression: `attribute_exists(pk) AND #status IN (${Object.keys(statusValues).join(", ")})`,
            ExpressionAttributeNames: {
              "#status": "status",
              "#timeline": "timeline",
              ...set.names,
              ...step.names,
            },
            ExpressionAttributeValues: {
              ":status": status,
              ":entry": [{ status, at: now, ...(note ? { note } : {}) }],
              ...statusValues,
              ...set.values,
              ...step.values,
            },
            ReturnValues: "ALL_NEW",
          }),
        ),
      );
      return parseDeployment(result.Attributes ?? {});
    } catch (error) {
      if (!isAwsError(error, "ConditionalCheckFailedException")) throw error;
      const current = await this.get(id);
      if (!current) throw new DeploymentNotFoundError(`deployment ${id} does not exist`);
      // Re-entering the same status is a retried step: apply its changes, keep the timeline.
      if (current.status === status) return this.update(id, changes);
      throw new InvalidTransitionError(`deployment ${id} cannot move from ${current.status} to ${status}`, {
        cause: error,
      });
    }
  }

  async update(
    id: string,
    changes: DeploymentChanges,
    steps: Partial<Record<StepName, StepRecord>> = {},
  ): Promise<Deployment> {
    const set = setClauses({ ...changes, updatedAt: this.clock.now().toISOString() }, "c");
    const step = stepClauses(steps);
    try {
      const result = await callAws("UpdateItem deployment", () =>
        this.db.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: keyOf(id),
            UpdateExpression: `SET ${[...set.clauses, ...step.clauses].join(", ")}`,
            ConditionExpression: "attribute_exists(pk)",
            ExpressionAttributeNames: { ...set.names, ...step.names },
            ExpressionAttributeValues: { ...set.values, ...step.values },
            ReturnValues: "ALL_NEW",
          }),
        ),
      );
      return parseDeployment(result.Attributes ?? {});
    } catch (error) {
      if (isAwsError(error, "ConditionalCheckFailedException"))
        throw new DeploymentNotFoundError(`deployment ${id} does not exist`);
      throw error;
    }
  }

  async markStep(
    id: string,
    step: StepName,
    phase: "start" | "end",
    details: { cached?: boolean; note?: string } = {},
  ): Promise<void> {
    const now = this.clock.now().toISOString();
    const names = { "#steps": "steps", "#step": step };
    if (phase === "start") {
      await callAws("UpdateItem deployment step", () =>
        this.db.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: keyOf(id),
            UpdateExpression: "SET #steps.#step = if_not_exists(#steps.#step, :record)",
            ConditionExpression: "attribute_exists(pk)",
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: { ":record": { startedAt: now, ...details } },
          }),
        ),
      );
      return;
    }
    try {
      const extra = setClauses(details, "d");
      await callAws("UpdateItem deployment step", () =>
        this.db.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: keyOf(id),
            UpdateExpression: [
              "SET #steps.#step.#endedAt = if_not_exists(#steps.#step.#endedAt, :now)",
              ...extra.clauses.map((c) => c.replace(/^#d/, "#steps.#step.#d")),
            ].join(", "),
            ConditionExpression: "attribute_exists(#steps.#step)",
            ExpressionAttributeNames: { ...names, "#endedAt": "endedAt", ...extra.names },
            ExpressionAttributeValues: { ":now": now, ...extra.values },
          }),
        ),
      );
    } catch (error) {
      if (!isAwsError(error, "ConditionalCheckFailedException")) throw error;
      // An end without a recorded start: record both at once.
      await this.markStep(id, step, "start", details);
      await this.markStep(id, step, "end");
    }
  }

  listByService(
    service: string,
    options: { limit: number; cursor?: string | undefined },
  ): Promise<Page<Deployment>> {
    const index = historyTableKeys.byService;
    return this.query(index.name, index.partitionKey, `SVC#${service}`, options);
  }

  listRecent(options: { limit: number; cursor?: string | undefined }): Promise<Page<Deployment>> {
    const index = historyTableKeys.byKind;
    return this.query(index.name, index.partitionKey, "DEP", options);
  }

  private async query(
    indexName: string,
    keyName: string,
    keyValue: string,
    options: { limit: number; cursor?: string | undefined },
  ) {
    const result = await callAws(`Query ${indexName}`, () =>
      this.db.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: indexName,
          KeyConditionExpression: "#key = :value",
          ExpressionAttributeNames: { "#key": keyName },
          ExpressionAttributeValues: { ":value": keyValue },
          ScanIndexForward: false,
          Limit: options.limit,
          ExclusiveStartKey: decodeCursor(options.cursor),
        }),
      ),
    );
    return {
      items: (result.Items ?? []).map(parseDeployment),
      cursor: encodeCursor(result.LastEvaluatedKey),
    };
  }
}
