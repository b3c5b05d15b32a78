import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { historyTableDefinition } from "../../core/aws/history-table.ts";
import { startDynamoDb } from "../../local/dynamodb.ts";
import { localCredentials, PortInUseError, portOf } from "../../local/endpoints.ts";

function clientFor(url: string) {
  return DynamoDBDocumentClient.from(
    new DynamoDBClient({ endpoint: url, region: "us-east-1", credentials: localCredentials }),
  );
}

describe("local DynamoDB", () => {
  let stateDir: string;

  beforeAll(async () => {
    stateDir = await mkdtemp(join(tmpdir(), "kiln-dynamodb-"));
  });

  afterAll(async () => {
    await rm(stateDir, { recursive: true, force: true });
  });

  it("creates Kiln's table ACTIVE at once and keeps its items across a restart", async () => {
    const first = await startDynamoDb({ stateDir });
    const client = clientFor(first.url);
    await client.send(new CreateTableCommand(historyTableDefinition("kiln")));
    const created = await client.send(new DescribeTableCommand({ TableName: "kiln" }));
    await client.send(
      new PutCommand({
        TableName: "kiln",
        Item: { pk: "DEP#1", sk: "DEP", gsi1pk: "SVC#web", gsi1sk: "2026-01-01", status: "SUCCEEDED" },
      }),
    );
    client.destroy();
    await first.close();

    const second = await startDynamoDb({ stateDir });
    const again = clientFor(second.url);
    try {
      const item = await again.send(new GetCommand({ TableName: "kiln", Key: { pk: "DEP#1", sk: "DEP" } }));
      const byService = await again.send(
        new QueryCommand({
          TableName: "kiln",
          IndexName: "byService",
          KeyConditionExpression: "gsi1pk = :service",
          ExpressionAttributeValues: { ":service": "SVC#web" },
        }),
      );
      const table = await again.send(new DescribeTableCommand({ TableName: "kiln" }));

      expect(created.Table?.TableStatus).toBe("ACTIVE");
      expect(item.Item?.status).toBe("SUCCEEDED");
      expect(byService.Items?.map((found) => found.pk)).toEqual(["DEP#1"]);
      expect(table.Table?.GlobalSecondaryIndexes?.map((index) => index.IndexName).sort()).toEqual(
        historyTableDefinition("kiln")
          .GlobalSecondaryIndexes.map((index) => index.IndexName)
          .sort(),
      );
    } finally {
      again.destroy();
      await second.close();
    }
  });

  it("names the port when it is taken, and answers nothing once closed", async () => {
    const first = await startDynamoDb({ stateDir });
    const port = portOf(first.url);
    try {
      await expect(startDynamoDb({ stateDir: join(stateDir, "other"), port })).rejects.toThrow(
        PortInUseError,
      );
    } finally {
      await first.close();
    }

    const client = clientFor(first.url);
    try {
      await expect(client.send(new DescribeTableCommand({ TableName: "kiln" }))).rejects.toMatchObject({
        code: "ECONNREFUSED",
      });
    } finally {
      client.destroy();
    }
  });
});
