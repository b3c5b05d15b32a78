/**
 * The local DynamoDB: dynalite on 127.0.0.1 with its LevelDB store on disk under
 * `<stateDir>/dynamodb`, so deployment history survives a restart of the local cloud. The engine
 * runs on a worker thread of its own (`dynamodb-engine.cjs`): it is the busiest emulator when
 * many deployments start at once, and the machine has another core.
 */
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { PortInUseError } from "./endpoints.ts";

export interface DynamoDbOptions {
  stateDir: string;
  port?: number;
}

export interface LocalDynamoDb {
  url: string;
  close(): Promise<void>;
}

type EngineMessage = { url: string } | { error: { message: string; code?: string } };

const engine = new URL("./dynamodb-engine.cjs", import.meta.url);

/** Starts dynalite on disk, on its own thread, and returns its endpoint. */
export async function startDynamoDb(options: DynamoDbOptions): Promise<LocalDynamoDb> {
  const path = join(options.stateDir, "dynamodb");
  await mkdir(path, { recursive: true });
  const port = options.port ?? 0;
  // The engine inherits neither the parent's loaders nor its flags: it is plain CommonJS.
  const worker = new Worker(engine, { workerData: { path, port }, execArgv: [] });
  const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    worker.once("error", reject);
    worker.once("exit", (code) => reject(new Error(`the DynamoDB engine thread exited (code ${code})`)));
    worker.once("message", (message: EngineMessage) => {
      if ("url" in message) return resolve(message.url);
      reject(
        message.error.code === "EADDRINUSE"
          ? new PortInUseError("DynamoDB", port)
          : new Error(`DynamoDB did not start: ${message.error.message}`),
      );
    });
  }).catch(async (error: unknown) => {
    await worker.terminate();
    throw error;
  });
  worker.removeAllListeners("error");
  // A crash of the engine after startup is reported rather than thrown into nowhere.
  worker.on("error", (error) => process.emitWarning(`the DynamoDB engine thread failed: ${error.message}`));
  return {
    url,
    close: async () => {
      worker.postMessage("close");
      await exited;
    },
  };
}
