/**
 * The local DynamoDB: dynalite on 127.0.0.1 with its LevelDB store on disk under
 * `<stateDir>/dynamodb`, so deployment history survives a restart of the local cloud.
 */
import { mkdir } from "node:fs/promises";
import type { Server } from "node:http";
import { createRequire } from "node:module";
import { join } from "node:path";
import { closeServer, listen } from "./endpoints.ts";

export interface DynamoDbOptions {
  stateDir: string;
  port?: number;
}

export interface LocalDynamoDb {
  url: string;
  close(): Promise<void>;
}

type Dynalite = (options: Record<string, unknown>) => Server;

const require = createRequire(import.meta.url);

/** Starts dynalite on disk and returns its endpoint. */
export async function startDynamoDb(options: DynamoDbOptions): Promise<LocalDynamoDb> {
  const path = join(options.stateDir, "dynamodb");
  await mkdir(path, { recursive: true });
  const dynalite: Dynalite = require("dynalite");
  // Tables are ACTIVE at once: AWS takes seconds, but nothing in Kiln waits on table status.
  const server = dynalite({ path, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  const url = await listen(server, options.port ?? 0, "DynamoDB");
  return {
    url,
    // dynalite's close also closes its LevelDB store, which another start needs unlocked.
    close: () => closeServer(server),
  };
}
