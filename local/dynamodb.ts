/**
 * The local DynamoDB: dynalite on 127.0.0.1 with its LevelDB store on disk under
 * `<stateDir>/dynamodb`, so deployment history survives a restart of the local cloud. The engine
 * runs on a worker thread of its own (`dynamodb-engine.cjs`): it is the busiest emulator when
 * many deployments start at once, and the machine has another core.
 */
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { type Log, PortInUseError } from "./endpoints.ts";

export interface DynamoDbOptions {
  stateDir: string;
  port?: number;
  /** Where a failure of the engine after startup is told. */
  log?: Log;
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
  const log = options.log ?? ((line: string) => process.emitWarning(line));
  let listening = false;
  const url = await new Promise<string>((resolve, reject) => {
    worker.on("error", (error) => {
      if (!listening) return reject(error);
      // The engine's thread ends with its failure: say so where the local cloud's operator looks.
      log(`DynamoDB: the engine failed (${error.message}); its calls fail until the local cloud restarts`);
    });
    void exited.then(() => reject(new Error("the DynamoDB engine thread ended before it listened")));
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
  listening = true;
  return {
    url,
    close: async () => {
      worker.postMessage("close");
      // The engine ends once its server and store are closed; a thread that lingers is ended.
      const lingering = new Promise<void>((resolve) => setTimeout(resolve, 5000).unref());
      await Promise.race([exited, lingering]);
      await worker.terminate();
    },
  };
}
