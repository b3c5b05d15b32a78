import { ConditionalCheckFailedException, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
  type UpdateCommandInput,
} from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { DynamoServiceRegistry } from "../../../core/aws/dynamo-service-registry.ts";
import { InvalidInputError } from "../../../core/errors.ts";
import { ManualClock } from "../../fakes/manual-clock.ts";
import { aServiceConfig } from "../../fakes/test-data.ts";
import { clientConfig } from "./sdk-error.ts";

const conditionFailed = () =>
  new ConditionalCheckFailedException({ message: "The conditional request failed", $metadata: {} });
const table = "kiln-history";
const stateKey = { pk: "SVC#hello-service", sk: "STATE" };
const now = "2026-03-02T10:00:00.000Z";
const leaseMs = 60 * 60 * 1000;
const leaseEnd = "2026-03-02T11:00:00.000Z";

describe("DynamoServiceRegistry", () => {
  const db = DynamoDBDocumentClient.from(new DynamoDBClient(clientConfig));
  const mock = mockClient(db);
  const registry = new DynamoServiceRegistry(table, db, new ManualClock(now));

  function updateInput(index = 0): UpdateCommandInput {
    const call = mock.commandCalls(UpdateCommand)[index];
    if (!call) throw new Error(`no UpdateItem call ${index}`);
    return call.args[0].input;
  }

  beforeEach(() => {
    mock.reset();
  });

  describe("acquireLock", () => {
    it("takes the lock when it is free, already its own, or its lease expired", async () => {
      mock.on(UpdateCommand).resolves({
        Attributes: { ...stateKey, activeDeploymentId: "d-a", leaseExpiresAt: leaseEnd },
      });

      const taken = await registry.acquireLock("hello-service", "d-a", leaseMs);

      expect(taken).toEqual({
        service: "hello-service",
        activeDeploymentId: "d-a",
        leaseExpiresAt: leaseEnd,
      });
      expect(updateInput()).toEqual({
        TableName: table,
        Key: stateKey,
        UpdateExpression: "SET activeDeploymentId = :id, leaseExpiresAt = :lease",
        ConditionExpression:
          "attribute_not_exists(activeDeploymentId) OR activeDeploymentId = :id OR leaseExpiresAt < :now",
        ExpressionAttributeValues: { ":id": "d-a", ":lease": leaseEnd, ":now": now },
        ReturnValues: "ALL_NEW",
      });
    });

    it("answers undefined when another live deployment holds it", async () => {
      mock.on(UpdateCommand).rejects(conditionFailed());

      expect(await registry.acquireLock("hello-service", "d-a", leaseMs)).toBeUndefined();
    });
  });

  describe("enqueue", () => {
    it("becomes the queue head unless a newer request is there, ties broken by id", async () => {
      mock.on(UpdateCommand).resolves({ Attributes: {} });

      await registry.enqueue("hello-service", "d-b", "2026-03-02T09:59:00.000Z");

      expect(updateInput()).toMatchObject({
        Key: stateKey,
        UpdateExpression: "SET queuedDeploymentId = :id, queuedRequestedAt = :at",
        ConditionExpression:
          "attribute_not_exists(queuedDeploymentId) OR queuedDeploymentId = :id OR queuedRequestedAt < :at " +
          "OR (queuedRequestedAt = :at AND queuedDeploymentId < :id)",
        ExpressionAttributeValues: { ":id": "d-b", ":at": "2026-03-02T09:59:00.000Z" },
        ReturnValues: "UPDATED_OLD",
      });
    });

    it("reports the older head it displaced", async () => {
      mock.on(UpdateCommand).resolves({
        Attributes: { queuedDeploymentId: "d-old", queuedRequestedAt: "2026-03-02T09:00:00.000Z" },
      });

      expect(await registry.enqueue("hello-service", "d-b", "2026-03-02T09:59:00.000Z")).toEqual({
        displaced: "d-old",
      });
    });

    it("displaces nothing when the queue was empty or already held it", async () => {
      mock
        .on(UpdateCommand)
        .resolvesOnce({})
        .resolves({ Attributes: { queuedDeploymentId: "d-b" } });

      expect(await registry.enqueue("hello-service", "d-b", now)).toEqual({ displaced: undefined });
      expect(await registry.enqueue("hello-service", "d-b", now)).toEqual({ displaced: undefined });
    });

    it("reports itself as displaced when a newer request already waits", async () => {
      mock.on(UpdateCommand).rejects(conditionFailed());

      expect(await registry.enqueue("hello-service", "d-b", now)).toEqual({ displaced: "d-b" });
    });
  });

  describe("promoteQueued", () => {
    it("moves the queue head into a free or expired lock", async () => {
      mock
        .on(GetCommand)
        .resolves({ Item: { ...stateKey, queuedDeploymentId: "d-b", queuedRequestedAt: now } });
      mock.on(UpdateCommand).resolves({});

      const promoted = await registry.promoteQueued("hello-service", leaseMs);

      expect(promoted).toBe("d-b");
      expect(updateInput()).toMatchObject({
        UpdateExpression:
          "SET activeDeploymentId = :id, leaseExpiresAt = :lease REMOVE queuedDeploymentId, queuedRequestedAt",
        ConditionExpression:
          "queuedDeploymentId = :id AND (attribute_not_exists(activeDeploymentId) OR activeDeploymentId = :id OR leaseExpiresAt < :now)",
        ExpressionAttributeValues: { ":id": "d-b", ":lease": leaseEnd, ":now": now },
      });
    });

    it("promotes nothing while the lock is held", async () => {
      mock.on(GetCommand).resolves({
        Item: {
          ...stateKey,
          activeDeploymentId: "d-a",
          leaseExpiresAt: leaseEnd,
          queuedDeploymentId: "d-b",
        },
      });
      mock.on(UpdateCommand).rejects(conditionFailed());

      expect(await registry.promoteQueued("hello-service", leaseMs)).toBeUndefined();
    });

    it("writes nothing when no deployment waits", async () => {
      mock.on(GetCommand).resolves({ Item: { ...stateKey, activeDeploymentId: "d-a" } });

      expect(await registry.promoteQueued("hello-service", leaseMs)).toBeUndefined();
      expect(mock.commandCalls(UpdateCommand)).toEqual([]);
    });
  });

  describe("dequeue and releaseLock", () => {
    it("removes the queue head only if it is the deployment named", async () => {
      mock.on(UpdateCommand).rejects(conditionFailed());

      const removed = await registry.dequeue("hello-service", "d-b");

      expect(removed).toBe(false);
      expect(updateInput()).toMatchObject({
        UpdateExpression: "REMOVE queuedDeploymentId, queuedRequestedAt",
        ConditionExpression: "queuedDeploymentId = :id",
        ExpressionAttributeValues: { ":id": "d-b" },
      });
    });

    it("releases the lock only for its holder, quietly otherwise", async () => {
      mock.on(UpdateCommand).rejects(conditionFailed());

      await expect(registry.releaseLock("hello-service", "d-not-holder")).resolves.toBeUndefined();
      expect(updateInput()).toMatchObject({
        UpdateExpression: "REMOVE activeDeploymentId, leaseExpiresAt",
        ConditionExpression: "activeDeploymentId = :id",
        ExpressionAttributeValues: { ":id": "d-not-holder" },
      });
    });
  });

  describe("getState", () => {
    it("reads the lock, queue and pins", async () => {
      const pinned = { imageId: "ami-1", deploymentId: "d-a", launchTemplateVersion: "7", pinnedAt: now };
      mock.on(GetCommand, { TableName: table, Key: stateKey, ConsistentRead: true }).resolves({
        Item: { ...stateKey, activeDeploymentId: "d-a", leaseExpiresAt: leaseEnd, lastKnownGood: pinned },
      });

      expect(await registry.getState("hello-service")).toEqual({
        service: "hello-service",
        activeDeploymentId: "d-a",
        leaseExpiresAt: leaseEnd,
        lastKnownGood: pinned,
      });
    });

    it("answers an empty state for a service that never deployed", async () => {
      mock.on(GetCommand).resolves({});

      expect(await registry.getState("hello-service")).toEqual({ service: "hello-service" });
    });

    it("refuses a malformed state item with an InvalidInputError", async () => {
      mock.on(GetCommand).resolves({ Item: { ...stateKey, lastKnownGood: { imageId: 42 } } });

      await expect(registry.getState("hello-service")).rejects.toThrow(InvalidInputError);
    });
  });

  describe("pinLastKnownGood", () => {
    const image = { imageId: "ami-2", deploymentId: "d-b", launchTemplateVersion: "8", pinnedAt: now };

    it("keeps the image it replaces as the previous image", async () => {
      const old = { imageId: "ami-1", deploymentId: "d-a", pinnedAt: "2026-03-01T00:00:00.000Z" };
      mock.on(GetCommand).resolves({ Item: { ...stateKey, lastKnownGood: old } });
      mock.on(UpdateCommand).resolves({});

      await registry.pinLastKnownGood("hello-service", image);

      expect(updateInput()).toMatchObject({
        UpdateExpression: "SET lastKnownGood = :new, previousImage = :old",
        ExpressionAttributeValues: { ":new": image, ":old": old },
      });
    });

    it("writes nothing when the image is already pinned", async () => {
      mock.on(GetCommand).resolves({ Item: { ...stateKey, lastKnownGood: image } });

      await registry.pinLastKnownGood("hello-service", image);

      expect(mock.commandCalls(UpdateCommand)).toEqual([]);
    });
  });

  describe("configs", () => {
    it("stores a config parsed, listed under SERVICE by name", async () => {
      mock.on(PutCommand).resolves({});

      await registry.putConfig(aServiceConfig());

      expect(mock.commandCalls(PutCommand)[0]?.args[0].input.Item).toMatchObject({
        pk: "SVC#hello-service",
        sk: "CONFIG",
        gsi2pk: "SERVICE",
        gsi2sk: "hello-service",
        config: aServiceConfig(),
        updatedAt: now,
      });
    });

    it("reads a config back with its defaults", async () => {
      mock
        .on(GetCommand)
        .resolves({ Item: { pk: "SVC#hello-service", sk: "CONFIG", config: aServiceConfig() } });

      expect(await registry.getConfig("hello-service")).toEqual(aServiceConfig());
    });

    it("refuses a malformed config with an InvalidInputError naming the service", async () => {
      mock
        .on(GetCommand)
        .resolves({ Item: { pk: "SVC#hello-service", sk: "CONFIG", config: { name: "hello-service" } } });

      await expect(registry.getConfig("hello-service")).rejects.toThrow(
        "invalid service config SVC#hello-service: group:",
      );
    });

    it("lists every config across pages", async () => {
      const other = aServiceConfig({ name: "other-service" });
      mock
        .on(QueryCommand)
        .resolvesOnce({
          Items: [{ config: aServiceConfig() }],
          LastEvaluatedKey: { pk: "SVC#hello-service", sk: "CONFIG" },
        })
        .resolvesOnce({ Items: [{ config: other }] });

      const configs = await registry.listConfigs();

      expect(configs.map((config) => config.name)).toEqual(["hello-service", "other-service"]);
      expect(mock.commandCalls(QueryCommand)[1]?.args[0].input.ExclusiveStartKey).toEqual({
        pk: "SVC#hello-service",
        sk: "CONFIG",
      });
    });
  });
});
