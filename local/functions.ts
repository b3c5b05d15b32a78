/**
 * The local Lambda runtime: runs Kiln's functions in this process, each loaded on first use from
 * its entry file in `kilnFunctions`, invoked as Lambda invokes it — a `Context` with a deadline,
 * the event and the result passed through JSON, a timeout, one log line per invocation.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { Context } from "aws-lambda";
import { type KilnFunctionName, kilnFunctionNames, kilnFunctions, sizingOf } from "../workflows/functions.ts";
import { accountId, type Log, region } from "./endpoints.ts";

/** A Lambda handler as Kiln's entry files export it. */
export type LambdaHandler = (event: unknown, context: Context) => unknown;

export interface LocalFunctionsOptions {
  log?: Log;
  /** Seconds before an invocation times out: one for all, or per function (default 30, as deployed). */
  timeoutSeconds?: number | Partial<Record<KilnFunctionName, number>>;
  /** Handlers to use instead of the entry files (tests that run before a function exists). */
  handlers?: Partial<Record<KilnFunctionName, LambdaHandler>>;
  /** The folder the entry files are relative to (default: the repository). */
  root?: string;
}

export interface FunctionStats {
  name: KilnFunctionName;
  invocations: number;
  errors: number;
  totalMs: number;
  maxMs: number;
  /** Every invocation's duration, in order, for percentiles. */
  durationsMs: number[];
}

export interface LocalFunctions {
  /** The ARN of a function, as the deploy workflow's Task states name it. */
  functionArn(name: KilnFunctionName): string;
  /** Invokes a function by Kiln name, deployed name (`kiln-<name>`) or ARN and returns its result. */
  invoke(nameOrArn: string, event: unknown): Promise<unknown>;
  /** Invocation counts and durations per function since start (or the last reset). */
  stats(): FunctionStats[];
  resetStats(): void;
}

const functionPrefix = "kiln-";
const arnPrefix = `arn:aws:lambda:${region}:${accountId}:function:`;

/** The ARN of a Kiln function in the local cloud. */
export function localFunctionArn(name: KilnFunctionName): string {
  return `${arnPrefix}${functionPrefix}${name}`;
}

/** An error with the name Lambda reports for failures of the runtime rather than the handler. */
class RuntimeError extends Error {
  constructor(name: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = name;
  }
}

function isKilnFunctionName(name: string): name is KilnFunctionName {
  return Object.hasOwn(kilnFunctions, name);
}

/** The Kiln function a name or ARN designates; ResourceNotFoundException when none does. */
export function resolveFunctionName(nameOrArn: string): KilnFunctionName {
  let name = nameOrArn;
  if (name.startsWith("arn:")) {
    const match = /^arn:aws:lambda:[^:]+:\d{12}:function:([^:]+)(:[^:]+)?$/.exec(name);
    name = match?.[1] ?? "";
  }
  if (name.startsWith(functionPrefix)) name = name.slice(functionPrefix.length);
  if (!isKilnFunctionName(name)) {
    throw new RuntimeError("ResourceNotFoundException", `Function not found: ${nameOrArn}`);
  }
  return name;
}

function timeoutFor(name: KilnFunctionName, option: LocalFunctionsOptions["timeoutSeconds"]): number {
  if (typeof option === "number") return option;
  return option?.[name] ?? sizingOf(name).timeoutSeconds;
}

function throughJson(value: unknown, what: string): unknown {
  try {
    return JSON.parse(JSON.stringify(value ?? null));
  } catch (error) {
    throw new RuntimeError("Runtime.MarshalError", `Unable to marshal the ${what} to JSON: ${String(error)}`);
  }
}

/** Creates the local Lambda runtime. */
export function createLocalFunctions(options: LocalFunctionsOptions = {}): LocalFunctions {
  const log = options.log ?? (() => {});
  const loaded = new Map<KilnFunctionName, Promise<LambdaHandler>>();
  const stats = new Map<KilnFunctionName, FunctionStats>();
  const root = options.root ?? fileURLToPath(new URL("..", import.meta.url));

  async function importHandler(name: KilnFunctionName): Promise<LambdaHandler> {
    const file = kilnFunctions[name];
    let module: unknown;
    try {
      module = await import(pathToFileURL(join(root, file)).href);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new RuntimeError("Runtime.ImportModuleError", `kiln-${name}: cannot load ${file}: ${reason}`, {
        cause: error,
      });
    }
    if (
      typeof module === "object" &&
      module !== null &&
      "handler" in module &&
      typeof module.handler === "function"
    ) {
      const { handler } = module;
      return (event, context) => handler(event, context);
    }
    throw new RuntimeError(
      "Runtime.HandlerNotFound",
      `kiln-${name}: ${file} does not export a handler function`,
    );
  }

  function handlerFor(name: KilnFunctionName): Promise<LambdaHandler> {
    const injected = options.handlers?.[name];
    if (injected !== undefined) return Promise.resolve(injected);
    let handler = loaded.get(name);
    if (handler === undefined) {
      handler = importHandler(name);
      // A file that failed to load is tried again next time (it may have been written since).
      handler.catch(() => loaded.delete(name));
      loaded.set(name, handler);
    }
    return handler;
  }

  function record(name: KilnFunctionName, durationMs: number, failed: boolean): void {
    const entry = stats.get(name) ?? {
      name,
      invocations: 0,
      errors: 0,
      totalMs: 0,
      maxMs: 0,
      durationsMs: [],
    };
    entry.invocations += 1;
    if (failed) entry.errors += 1;
    entry.totalMs += durationMs;
    entry.maxMs = Math.max(entry.maxMs, durationMs);
    entry.durationsMs.push(durationMs);
    stats.set(name, entry);
  }

  return {
    functionArn: localFunctionArn,

    async invoke(nameOrArn, event) {
      const name = resolveFunctionName(nameOrArn);
      const functionName = `${functionPrefix}${name}`;
      const timeoutSeconds = timeoutFor(name, options.timeoutSeconds);
      const awsRequestId = randomUUID();
      const started = performance.now();
      const deadline = Date.now() + timeoutSeconds * 1000;
      const day = new Date().toISOString().slice(0, 10).replace(/-/g, "/");
      const context: Context = {
        callbackWaitsForEmptyEventLoop: true,
        functionName,
        functionVersion: "$LATEST",
        invokedFunctionArn: localFunctionArn(name),
        memoryLimitInMB: "1024",
        awsRequestId,
        logGroupName: `/aws/lambda/${functionName}`,
        logStreamName: `${day}/[$LATEST]${randomBytes(16).toString("hex")}`,
        getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
        done: () => {},
        fail: () => {},
        succeed: () => {},
      };
      let timer: NodeJS.Timeout | undefined;
      try {
        const handler = await handlerFor(name);
        const input = throughJson(event, "event");
        const timedOut = new Promise<never>((_, reject) => {
          timer = setTimeout(
            () =>
              reject(
                new RuntimeError(
                  "Sandbox.Timedout",
                  `Task timed out after ${timeoutSeconds.toFixed(2)} seconds`,
                ),
              ),
            timeoutSeconds * 1000,
          );
        });
        // A timed-out handler keeps running in this process; Lambda would freeze it.
        const result = await Promise.race([Promise.resolve(handler(input, context)), timedOut]);
        const output = throughJson(result, "response");
        const ms = performance.now() - started;
        record(name, ms, false);
        log(`λ ${functionName} ${awsRequestId} ${ms.toFixed(0)} ms ok`);
        return output;
      } catch (error) {
        const ms = performance.now() - started;
        record(name, ms, true);
        const failure = error instanceof Error ? error : new RuntimeError("Error", String(error));
        log(`λ ${functionName} ${awsRequestId} ${ms.toFixed(0)} ms ${failure.name}: ${failure.message}`);
        throw failure;
      } finally {
        clearTimeout(timer);
      }
    },

    stats() {
      return kilnFunctionNames.flatMap((name) => {
        const entry = stats.get(name);
        return entry === undefined ? [] : [{ ...entry, durationsMs: [...entry.durationsMs] }];
      });
    },

    resetStats() {
      stats.clear();
    },
  };
}
