/**
 * The two implementations each contract runs against: the in-memory fake the use-case tests
 * use, and the DynamoDB adapter on a local DynamoDB (dynalite on 127.0.0.1, started here).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { DynamoDeploymentHistory } from "../../../core/aws/dynamo-deployment-history.ts";
import { DynamoServiceRegistry } from "../../../core/aws/dynamo-service-registry.ts";
import { DynamoWatcherRegistry } from "../../../core/aws/dynamo-watcher-registry.ts";
import { historyTableDefinition } from "../../../core/aws/history-table.ts";
import type { DeploymentHistory, ServiceRegistry, WatcherRegistry } from "../../../core/ports.ts";
import { startDynamoDb } from "../../../local/dynamodb.ts";
import { localCredentials } from "../../../local/endpoints.ts";
import { InMemoryDeploymentHistory } from "../../fakes/in-memory-deployment-history.ts";
import { InMemoryServiceRegistry } from "../../fakes/in-memory-service-registry.ts";
import { InMemoryWatcherRegistry } from "../../fakes/in-memory-watchers.ts";
import type { ManualClock } from "../../fakes/manual-clock.ts";

export interface Ports {
  history: DeploymentHistory;
  services: ServiceRegistry;
  watchers: WatcherRegistry;
}

export interface Implementation {
  name: string;
  /** Fresh, empty ports reading time from `clock`. */
  create(clock: ManualClock): Promise<Ports>;
  close(): Promise<void>;
}

export const inMemory: Implementation = {
  name: "the in-memory fakes",
  create: async (clock) => ({
    history: new InMemoryDeploymentHistory(clock),
    services: new InMemoryServiceRegistry(clock),
    watchers: new InMemoryWatcherRegistry(),
  }),
  close: async () => {},
};

/** dynalite answers CreateTable before the table takes requests, even with no creation delay. */
async function untilActive(client: DynamoDBClient, table: string): Promise<void> {
  for (let attempt = 0; attempt < 500; attempt += 1) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: table }));
    if (Table?.TableStatus === "ACTIVE") return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`table ${table} never became ACTIVE`);
}

/** The DynamoDB adapters, each `create` on a new table of one local DynamoDB. */
export async function onLocalDynamoDb(): Promise<Implementation> {
  const stateDir = await mkdtemp(join(tmpdir(), "kiln-contract-"));
  const dynamo = await startDynamoDb({ stateDir });
  const client = new DynamoDBClient({
    endpoint: dynamo.url,
    region: "us-east-1",
    credentials: localCredentials,
  });
  const db = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  let tables = 0;
  return {
    name: "the DynamoDB adapters",
    async create(clock) {
      tables += 1;
      const table = `kiln-contract-${tables}`;
      await client.send(new CreateTableCommand(historyTableDefinition(table)));
      await untilActive(client, table);
      return {
        history: new DynamoDeploymentHistory(table, db, clock),
        services: new DynamoServiceRegistry(table, db, clock),
        watchers: new DynamoWatcherRegistry(table, db),
      };
    },
    async close() {
      client.destroy();
      await dynamo.close();
      await rm(stateDir, { recursive: true, force: true });
    },
  };
}

/** Each implementation by name, for `describe.each`. */
export const implementations: Array<[string, () => Promise<Implementation>]> = [
  ["the in-memory fakes", async () => inMemory],
  ["the DynamoDB adapters on a local DynamoDB", onLocalDynamoDb],
];
