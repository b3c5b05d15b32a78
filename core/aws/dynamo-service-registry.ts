/**
 * ServiceRegistry on DynamoDB. A service's lock, queue head and pins share one item, changed only
 * by single-item conditional writes: the local DynamoDB has no transactions, and none are needed.
 */
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import * as z from "zod";
import { describeIssues, InvalidInputError } from "../errors.ts";
import type { Clock, PinnedImage, ServiceRegistry, ServiceState } from "../ports.ts";
import { systemClock } from "../ports.ts";
import { type ServiceConfig, serviceConfigSchema } from "../service-config.ts";
import { callAws, isAwsError } from "./aws-errors.ts";
import { documentClient } from "./clients.ts";
import { historyTableKeys } from "./history-table.ts";

const pinnedImageSchema = z.object({
  imageId: z.string(),
  deploymentId: z.string(),
  launchTemplateVersion: z.string().optional(),
  pinnedAt: z.string(),
});

const stateItemSchema = z.object({
  activeDeploymentId: z.string().optional(),
  leaseExpiresAt: z.string().optional(),
  queuedDeploymentId: z.string().optional(),
  queuedRequestedAt: z.string().optional(),
  lastKnownGood: pinnedImageSchema.optional(),
  previousImage: pinnedImageSchema.optional(),
});

const configKey = (service: string) => ({ pk: `SVC#${service}`, sk: "CONFIG" });
const stateKey = (service: string) => ({ pk: `SVC#${service}`, sk: "STATE" });

function parseState(service: string, item: Record<string, unknown>): ServiceState {
  const parsed = stateItemSchema.safeParse(item);
  if (!parsed.success)
    throw new InvalidInputError(`service state of ${service}`, describeIssues(parsed.error.issues));
  return { service, ...parsed.data };
}

function parseConfig(item: Record<string, unknown>): ServiceConfig {
  const parsed = serviceConfigSchema.safeParse(item.config);
  if (!parsed.success)
    throw new InvalidInputError(`service config ${String(item.pk)}`, describeIssues(parsed.error.issues));
  return parsed.data;
}

export class DynamoServiceRegistry implements ServiceRegistry {
  constructor(
    private readonly tableName: string,
    private readonly db: DynamoDBDocumentClient = documentClient(),
    private readonly clock: Clock = systemClock,
  ) {}

  async getConfig(service: string): Promise<ServiceConfig | undefined> {
    const result = await callAws("GetItem service config", () =>
      this.db.send(
        new GetCommand({ TableName: this.tableName, Key: configKey(service), ConsistentRead: true }),
      ),
    );
    return result.Item ? parseConfig(result.Item) : undefined;
  }

  async putConfig(config: ServiceConfig): Promise<void> {
    const item = {
      ...configKey(config.name),
      gsi2pk: "SERVICE",
      gsi2sk: config.name,
      config: serviceConfigSchema.parse(config),
      updatedAt: this.clock.now().toISOString(),
    };
    await callAws("PutItem service config", () =>
      this.db.send(new PutCommand({ TableName: this.tableName, Item: item })),
    );
  }

  async listConfigs(): Promise<ServiceConfig[]> {
    const configs: ServiceConfig[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await callAws("Query services", () =>
        this.db.send(
          new QueryCommand({
            TableName: this.tableName,
            IndexName: historyTableKeys.byKind.name,
            KeyConditionExpression: "#kind = :kind",
            ExpressionAttributeNames: { "#kind": historyTableKeys.byKind.partitionKey },
            ExpressionAttributeValues: { ":kind": "SERVICE" },
            ExclusiveStartKey: startKey,
          }),
        ),
      );
      configs.push(...(page.Items ?? []).map(parseConfig));
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return configs;
  }

  async getState(service: string): Promise<ServiceState> {
    const result = await callAws("GetItem service state", () =>
      this.db.send(
        new GetCommand({ TableName: this.tableName, Key: stateKey(service), ConsistentRead: true }),
      ),
    );
    return parseState(service, result.Item ?? {});
  }

  async acquireLock(
    service: string,
    deploymentId: string,
    leaseMs: number,
  ): Promise<ServiceState | undefined> {
    const now = this.clock.now();
    const item = await this.conditionalUpdate(service, {
      UpdateExpression: "SET activeDeploymentId = :id, leaseExpiresAt = :lease",
      ConditionExpression:
        "attribute_not_exists(activeDeploymentId) OR activeDeploymentId = :id OR leaseExpiresAt < :now",
      ExpressionAttributeValues: {
        ":id": deploymentId,
        ":lease": new Date(now.getTime() + leaseMs).toISOString(),
        ":now": now.toISOString(),
      },
      ReturnValues: "ALL_NEW",
    });
    return item && parseState(service, item);
  }

  async enqueue(
    service: string,
    deploymentId: string,
    requestedAt: string,
  ): Promise<{ displaced?: string | undefined }> {
    try {
      const result = await callAws("UpdateItem service queue", () =>
        this.db.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: stateKey(service),
            UpdateExpression: "SET queuedDeploymentId = :id, queuedRequestedAt = :at",
            ConditionExpression:
              "attribute_not_exists(queuedDeploymentId) OR queuedDeploymentId = :id OR queuedRequestedAt < :at " +
              "OR (queuedRequestedAt = :at AND queuedDeploymentId < :id)",
            ExpressionAttributeValues: { ":id": deploymentId, ":at": requestedAt },
            ReturnValues: "UPDATED_OLD",
          }),
        ),
      );
      const old = result.Attributes?.queuedDeploymentId;
      return { displaced: typeof old === "string" && old !== deploymentId ? old : undefined };
    } catch (error) {
      if (isAwsError(error, "ConditionalCheckFailedException")) return { displaced: deploymentId };
      throw error;
    }
  }

  async promoteQueued(service: string, leaseMs: number): Promise<string | undefined> {
    const { queuedDeploymentId } = await this.getState(service);
    if (!queuedDeploymentId) return undefined;
    const now = this.clock.now();
    const promoted = await this.conditionalUpdate(service, {
      UpdateExpression:
        "SET activeDeploymentId = :id, leaseExpiresAt = :lease REMOVE queuedDeploymentId, queuedRequestedAt",
      ConditionExpression:
        "queuedDeploymentId = :id AND (attribute_not_exists(activeDeploymentId) OR activeDeploymentId = :id OR leaseExpiresAt < :now)",
      ExpressionAttributeValues: {
        ":id": queuedDeploymentId,
        ":lease": new Date(now.getTime() + leaseMs).toISOString(),
        ":now": now.toISOString(),
      },
    });
    return promoted === undefined ? undefined : queuedDeploymentId;
  }

  async dequeue(service: string, deploymentId: string): Promise<boolean> {
    const removed = await this.conditionalUpdate(service, {
      UpdateExpression: "REMOVE queuedDeploymentId, queuedRequestedAt",
      ConditionExpression: "queuedDeploymentId = :id",
      ExpressionAttributeValues: { ":id": deploymentId },
    });
    return removed !== undefined;
  }

  async releaseLock(service: string, deploymentId: string): Promise<void> {
    await this.conditionalUpdate(service, {
      UpdateExpression: "REMOVE activeDeploymentId, leaseExpiresAt",
      ConditionExpression: "activeDeploymentId = :id",
      ExpressionAttributeValues: { ":id": deploymentId },
    });
  }

  async pinLastKnownGood(service: string, image: PinnedImage): Promise<void> {
    const { lastKnownGood } = await this.getState(service);
    if (lastKnownGood?.imageId === image.imageId) return;
    await callAws("UpdateItem service pins", () =>
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: stateKey(service),
          UpdateExpression: lastKnownGood
            ? "SET lastKnownGood = :new, previousImage = :old"
            : "SET lastKnownGood = :new",
          ExpressionAttributeValues: {
            ":new": pinnedImageSchema.parse(image),
            ...(lastKnownGood ? { ":old": lastKnownGood } : {}),
          },
        }),
      ),
    );
  }

  /**
   * One conditional write to the state item: the attributes it asked to return (none unless
   * `ReturnValues` says so), or undefined when its condition did not hold.
   */
  private async conditionalUpdate(
    service: string,
    update: {
      UpdateExpression: string;
      ConditionExpression: string;
      ExpressionAttributeValues: Record<string, unknown>;
      ReturnValues?: "ALL_NEW";
    },
  ): Promise<Record<string, unknown> | undefined> {
    try {
      const result = await callAws("UpdateItem service state", () =>
        this.db.send(new UpdateCommand({ TableName: this.tableName, Key: stateKey(service), ...update })),
      );
      return result.Attributes ?? {};
    } catch (error) {
      if (isAwsError(error, "ConditionalCheckFailedException")) return undefined;
      throw error;
    }
  }
}
