/**
 * WatcherRegistry on DynamoDB: one item per watched resource (`WATCH#<resource>`), replaced by
 * each new wait on it and removed by a conditional delete on its task token, so of the calls
 * that find a wait over, exactly one resumes the workflow. Items carry an `expiresAt` epoch for
 * DynamoDB's time to live: a watcher whose workflow moved on by a timeout is forgotten a day later.
 */
import { DeleteCommand, type DynamoDBDocumentClient, GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import * as z from "zod";
import { describeIssues, InvalidInputError } from "../errors.ts";
import type { Watcher, WatcherRegistry } from "../ports.ts";
import { callAws, isAwsError } from "./aws-errors.ts";
import { documentClient } from "./clients.ts";
import { historyTableKeys, historyTableTtlAttribute } from "./history-table.ts";

const keyOf = (resource: string) => ({
  [historyTableKeys.partitionKey]: `WATCH#${resource}`,
  [historyTableKeys.sortKey]: "WATCH",
});

const itemSchema = z.object({
  taskToken: z.string(),
  kind: z.string(),
  state: z.string(),
  expiresAt: z.number(),
});

export class DynamoWatcherRegistry implements WatcherRegistry {
  constructor(
    private readonly tableName: string,
    private readonly db: DynamoDBDocumentClient = documentClient(),
  ) {}

  async put(resource: string, watcher: Watcher): Promise<void> {
    await callAws(`PutItem watcher ${resource}`, () =>
      this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            ...keyOf(resource),
            taskToken: watcher.taskToken,
            kind: watcher.kind,
            state: JSON.stringify(watcher.state),
            [historyTableTtlAttribute]: Math.ceil(watcher.expiresAt.getTime() / 1000),
          },
        }),
      ),
    );
  }

  async get(resource: string): Promise<Watcher | undefined> {
    const result = await callAws(`GetItem watcher ${resource}`, () =>
      this.db.send(new GetCommand({ TableName: this.tableName, Key: keyOf(resource), ConsistentRead: true })),
    );
    if (!result.Item) return undefined;
    const parsed = itemSchema.safeParse(result.Item);
    if (!parsed.success)
      throw new InvalidInputError(`watcher ${resource}`, describeIssues(parsed.error.issues));
    const { taskToken, kind, state, expiresAt } = parsed.data;
    return { taskToken, kind, state: JSON.parse(state), expiresAt: new Date(expiresAt * 1000) };
  }

  async claim(resource: string, taskToken: string): Promise<boolean> {
    try {
      await callAws(`DeleteItem watcher ${resource}`, () =>
        this.db.send(
          new DeleteCommand({
            TableName: this.tableName,
            Key: keyOf(resource),
            ConditionExpression: "taskToken = :token",
            ExpressionAttributeValues: { ":token": taskToken },
          }),
        ),
      );
      return true;
    } catch (error) {
      if (isAwsError(error, "ConditionalCheckFailedException")) return false;
      throw error;
    }
  }
}
