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
import { DynamoDeploymentHistory } from "../../../core/aws/dynamo-deployment-history.ts";
import type { DeploymentStatus } from "../../../core/deployment.ts";
import { DeploymentNotFoundError, InvalidInputError, InvalidTransitionError } from "../../../core/errors.ts";
import { ManualClock } from "../../fakes/manual-clock.ts";
import { aDeployment, anExecutionInput } from "../../fakes/test-data.ts";
import { clientConfig } from "./sdk-error.ts";

const conditionFailed = () =>
  new ConditionalCheckFailedException({ message: "The conditional request failed", $metadata: {} });
const table = "kiln-history";
const input = anExecutionInput();
const deployment = aDeployment(input);
const key = { pk: `DEP#${input.deploymentId}`, sk: "DEP" };

describe("DynamoDeploymentHistory", () => {
  const db = DynamoDBDocumentClient.from(new DynamoDBClient(clientConfig));
  const mock = mockClient(db);
  const clock = new ManualClock("2026-03-02T10:00:00.000Z");
  const history = new DynamoDeploymentHistory(table, db, clock);

  function updateInput(index = 0): UpdateCommandInput {
    const call = mock.commandCalls(UpdateCommand)[index];
    if (!call) throw new Error(`no UpdateItem call ${index}`);
    return call.args[0].input;
  }

  beforeEach(() => {
    mock.reset();
  });

  describe("create", () => {
    it("puts the record with its index keys only if the id is not taken", async () => {
      mock.on(PutCommand).resolves({});

      const outcome = await history.create(deployment);

      expect(outcome).toEqual({ created: true, deployment });
      const put = mock.commandCalls(PutCommand)[0]?.args[0].input;
      expect(put?.ConditionExpression).toBe("attribute_not_exists(pk)");
      expect(put?.TableName).toBe(table);
      expect(put?.Item).toMatchObject({
        ...key,
        gsi1pk: "SVC#hello-service",
        gsi1sk: `${deployment.requestedAt}#${deployment.id}`,
        gsi2pk: "DEP",
        gsi2sk: `${deployment.requestedAt}#${deployment.id}`,
        id: deployment.id,
        status: "PENDING",
      });
    });

    it("returns the existing record when the id is taken", async () => {
      mock.on(PutCommand).rejects(conditionFailed());
      mock.on(GetCommand).resolves({ Item: { ...key, ...deployment, status: "BAKING" } });

      const outcome = await history.create(deployment);

      expect(outcome.created).toBe(false);
      expect(outcome.deployment.status).toBe("BAKING");
    });
  });

  describe("get", () => {
    it("reads consistently and parses the record without its keys", async () => {
      mock.on(GetCommand, { TableName: table, Key: key, ConsistentRead: true }).resolves({
        Item: { ...key, gsi1pk: "SVC#hello-service", gsi1sk: "x", gsi2pk: "DEP", gsi2sk: "x", ...deployment },
      });

      expect(await history.get(input.deploymentId)).toEqual(deployment);
    });

    it("answers undefined for an unknown id", async () => {
      mock.on(GetCommand).resolves({});

      expect(await history.get(input.deploymentId)).toBeUndefined();
    });

    it("refuses a malformed record with an InvalidInputError naming it and the bad field", async () => {
      mock.on(GetCommand).resolves({ Item: { ...key, ...deployment, status: "EXPLODED" } });

      const read = history.get(input.deploymentId);

      await expect(read).rejects.toThrow(InvalidInputError);
      await expect(history.get(input.deploymentId)).rejects.toThrow(
        `invalid deployment record DEP#${input.deploymentId}: status:`,
      );
    });
  });

  describe("transition", () => {
    it.each<[DeploymentStatus, DeploymentStatus[]]>([
      ["PENDING", ["QUEUED"]],
      ["BAKING", ["PENDING"]],
      ["CANARY", ["PENDING", "BAKING"]],
      ["ROLLING", ["PENDING", "CANARY"]],
      ["SUCCEEDED", ["ROLLING"]],
      ["ROLLED_BACK", ["ROLLING"]],
      ["SUPERSEDED", ["QUEUED"]],
      ["FAILED", ["QUEUED", "PENDING", "BAKING", "CANARY", "ROLLING"]],
      ["CANCELLED", ["QUEUED", "PENDING", "BAKING", "CANARY", "ROLLING"]],
    ])("moves to %s only from %j", async (status, from) => {
      mock.on(UpdateCommand).resolves({ Attributes: { ...key, ...deployment, status } });

      await history.transition(input.deploymentId, status);

      const update = updateInput();
      const placeholders = from.map((_, index) => `:from${index}`).join(", ");
      expect(update.ConditionExpression).toBe(`attribute_exists(pk) AND #status IN (${placeholders})`);
      expect(from.map((_, index) => update.ExpressionAttributeValues?.[`:from${index}`]).sort()).toEqual(
        [...from].sort(),
      );
      expect(update.ExpressionAttributeValues?.[`:from${from.length}`]).toBeUndefined();
    });

    it("sets the status, appends to the timeline, applies the changes and starts the status's step, returning the record", async () => {
      mock
        .on(UpdateCommand)
        .resolves({ Attributes: { ...key, ...deployment, status: "CANARY", imageId: "ami-1" } });

      const moved = await history.transition(
        input.deploymentId,
        "CANARY",
        { imageId: "ami-1", refreshId: undefined },
        "image ready",
      );

      expect(moved).toMatchObject({ status: "CANARY", imageId: "ami-1" });
      const update = updateInput();
      expect(update.Key).toEqual(key);
      expect(update.UpdateExpression).toBe(
        "SET #status = :status, #timeline = list_append(#timeline, :entry), #cimageId = :cimageId, #cupdatedAt = :cupdatedAt, #steps.#scanary = if_not_exists(#steps.#scanary, :scanary)",
      );
      expect(update.ExpressionAttributeNames).toMatchObject({ "#steps": "steps", "#scanary": "canary" });
      expect(update.ExpressionAttributeValues).toMatchObject({
        ":status": "CANARY",
        ":entry": [{ status: "CANARY", at: "2026-03-02T10:00:00.000Z", note: "image ready" }],
        ":cimageId": "ami-1",
        ":cupdatedAt": "2026-03-02T10:00:00.000Z",
        ":scanary": { startedAt: "2026-03-02T10:00:00.000Z" },
      });
      expect(update.ReturnValues).toBe("ALL_NEW");
    });

    it("records when a terminal status ended the deployment", async () => {
      mock.on(UpdateCommand).resolves({ Attributes: { ...key, ...deployment, status: "FAILED" } });

      await history.transition(input.deploymentId, "FAILED", {
        error: { name: "BakeFailedError", message: "boom" },
      });

      expect(updateInput().ExpressionAttributeValues).toMatchObject({
        ":cendedAt": "2026-03-02T10:00:00.000Z",
        ":cerror": { name: "BakeFailedError", message: "boom" },
      });
    });

    it("re-entering the current status applies the changes without a second timeline entry", async () => {
      mock
        .on(UpdateCommand)
        .rejectsOnce(conditionFailed())
        .resolves({ Attributes: { ...key, ...deployment, status: "BAKING" } });
      mock.on(GetCommand).resolves({ Item: { ...key, ...deployment, status: "BAKING" } });

      const moved = await history.transition(input.deploymentId, "BAKING", { builderInstanceId: "i-1" });

      expect(moved.status).toBe("BAKING");
      const retry = updateInput(1);
      expect(retry.UpdateExpression).not.toContain("#timeline");
      expect(retry.ExpressionAttributeValues).toMatchObject({ ":cbuilderInstanceId": "i-1" });
    });

    it("refuses a move the current status does not allow with InvalidTransitionError", async () => {
      mock.on(UpdateCommand).rejects(conditionFailed());
      mock.on(GetCommand).resolves({ Item: { ...key, ...deployment, status: "SUCCEEDED" } });

      await expect(history.transition(input.deploymentId, "BAKING")).rejects.toThrow(
        new InvalidTransitionError(`deployment ${input.deploymentId} cannot move from SUCCEEDED to BAKING`),
      );
    });

    it("fails with DeploymentNotFoundError for an unknown deployment", async () => {
      mock.on(UpdateCommand).rejects(conditionFailed());
      mock.on(GetCommand).resolves({});

      await expect(history.transition(input.deploymentId, "BAKING")).rejects.toThrow(DeploymentNotFoundError);
    });
  });

  describe("update", () => {
    it("sets the defined changes on an existing record", async () => {
      mock.on(UpdateCommand).resolves({ Attributes: { ...key, ...deployment, refreshId: "refresh-1" } });

      await history.update(input.deploymentId, { refreshId: "refresh-1", imageId: undefined });

      expect(updateInput()).toMatchObject({
        ConditionExpression: "attribute_exists(pk)",
        UpdateExpression: "SET #crefreshId = :crefreshId, #cupdatedAt = :cupdatedAt",
        ExpressionAttributeNames: { "#crefreshId": "refreshId", "#cupdatedAt": "updatedAt" },
      });
    });

    it("fails with DeploymentNotFoundError when the record does not exist", async () => {
      mock.on(UpdateCommand).rejects(conditionFailed());

      await expect(history.update(input.deploymentId, { refreshId: "r" })).rejects.toThrow(
        DeploymentNotFoundError,
      );
    });
  });

  describe("markStep", () => {
    it("records a step's start once", async () => {
      mock.on(UpdateCommand).resolves({});

      await history.markStep(input.deploymentId, "bake", "start", { cached: true, note: "reused ami-1" });

      expect(updateInput()).toMatchObject({
        UpdateExpression: "SET #steps.#step = if_not_exists(#steps.#step, :record)",
        ConditionExpression: "attribute_exists(pk)",
        ExpressionAttributeNames: { "#steps": "steps", "#step": "bake" },
        ExpressionAttributeValues: {
          ":record": { startedAt: "2026-03-02T10:00:00.000Z", cached: true, note: "reused ami-1" },
        },
      });
    });

    it("records a step's end once, on a step that started", async () => {
      mock.on(UpdateCommand).resolves({});

      await history.markStep(input.deploymentId, "bake", "end", { cached: true });

      expect(updateInput()).toMatchObject({
        UpdateExpression:
          "SET #steps.#step.#endedAt = if_not_exists(#steps.#step.#endedAt, :now), #steps.#step.#dcached = :dcached",
        ConditionExpression: "attribute_exists(#steps.#step)",
        ExpressionAttributeValues: { ":now": "2026-03-02T10:00:00.000Z", ":dcached": true },
      });
    });

    it("records start and end together for a step that ends without a recorded start", async () => {
      mock.on(UpdateCommand).rejectsOnce(conditionFailed()).resolves({});

      await history.markStep(input.deploymentId, "finish", "end");

      const expressions = mock.commandCalls(UpdateCommand).map((call) => call.args[0].input.UpdateExpression);
      expect(expressions).toEqual([
        "SET #steps.#step.#endedAt = if_not_exists(#steps.#step.#endedAt, :now)",
        "SET #steps.#step = if_not_exists(#steps.#step, :record)",
        "SET #steps.#step.#endedAt = if_not_exists(#steps.#step.#endedAt, :now)",
      ]);
    });
  });

  describe("listByService", () => {
    it("queries the service's index newest first, one page at a time with an opaque cursor", async () => {
      const lastKey = { pk: "DEP#d-x", sk: "DEP", gsi1pk: "SVC#hello-service", gsi1sk: "t#d-x" };
      mock.on(QueryCommand).resolves({ Items: [{ ...key, ...deployment }], LastEvaluatedKey: lastKey });

      const page = await history.listByService("hello-service", { limit: 1 });
      await history.listByService("hello-service", { limit: 1, cursor: page.cursor });

      expect(page.items).toEqual([deployment]);
      const [first, second] = mock.commandCalls(QueryCommand).map((call) => call.args[0].input);
      expect(first).toMatchObject({
        IndexName: "byService",
        KeyConditionExpression: "#key = :value",
        ExpressionAttributeNames: { "#key": "gsi1pk" },
        ExpressionAttributeValues: { ":value": "SVC#hello-service" },
        ScanIndexForward: false,
        Limit: 1,
      });
      expect(first?.ExclusiveStartKey).toBeUndefined();
      expect(second?.ExclusiveStartKey).toEqual(lastKey);
    });

    it("refuses a cursor it did not hand out", async () => {
      await expect(history.listRecent({ limit: 5, cursor: "not-a-cursor" })).rejects.toThrow(
        InvalidInputError,
      );
    });
  });
});
