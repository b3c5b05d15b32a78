/**
 * The callback pattern (`arn:aws:states:::lambda:invoke.waitForTaskToken`): task tokens, the
 * answers SendTaskSuccess, SendTaskFailure and SendTaskHeartbeat bring, and the local copy of a
 * callback state that the interpreter runs.
 *
 * A token names its execution and carries a random nonce (256 bits) that only the attempt it was
 * minted for knows: it cannot be guessed, and an answer for it can be routed to its execution,
 * even after a restart of the local cloud (when that execution has been aborted: TaskTimedOut).
 */
import { randomBytes } from "node:crypto";
import * as z from "zod";

/** The Lambda integration's callback pattern: invoke the function, then wait for the token. */
export const lambdaInvokeCallbackResource = "arn:aws:states:::lambda:invoke.waitForTaskToken";

/** What SendTaskSuccess, SendTaskFailure or SendTaskHeartbeat says about a waiting task. */
export type TaskAnswer =
  | { kind: "success"; output: string }
  | { kind: "failure"; error?: string | undefined; cause?: string | undefined }
  | { kind: "heartbeat" };

/** Whether the task a token was given still waits for its answer, has ended, or never existed. */
export type TaskTokenState = "open" | "ended" | "unknown";

const tokenSchema = z.strictObject({ v: z.literal(1), executionArn: z.string(), nonce: z.string() });

/** A fresh nonce for one attempt of a callback task. */
export function newNonce(): string {
  return randomBytes(32).toString("base64url");
}

/** The task token of attempt `nonce` of a task of `executionArn`. */
export function encodeTaskToken(executionArn: string, nonce: string): string {
  return Buffer.from(JSON.stringify({ v: 1, executionArn, nonce }), "utf8").toString("base64url");
}

/** The execution and nonce a token names; undefined when it is not a token this endpoint issues. */
export function decodeTaskToken(token: string): { executionArn: string; nonce: string } | undefined {
  if (!/^[A-Za-z0-9_-]+$/.test(token)) return undefined;
  try {
    const parsed = tokenSchema.safeParse(JSON.parse(Buffer.from(token, "base64url").toString("utf8")));
    return parsed.success ? { executionArn: parsed.data.executionArn, nonce: parsed.data.nonce } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The timeout of a callback task without `TimeoutSeconds(Path)`. AWS lets such a task wait as long
 * as its execution may run (a year); a Node.js timer holds at most 2^31-1 ms (24.8 days), so the
 * interpreter's own task timer (60 s when a state has none) is set to this instead.
 */
export const unboundedCallbackTimeoutSeconds = 2_000_000;

/** What a callback state's local Parameters evaluate to (see `localCallbackState`). */
export interface CallbackInput {
  Parameters: unknown;
  TimeoutSecondsPath?: unknown;
  HeartbeatSecondsPath?: unknown;
}

/**
 * The local copy of a callback Task state. AWS evaluates `TimeoutSecondsPath` and
 * `HeartbeatSecondsPath` against the state's input (after InputPath); the interpreter evaluates
 * `TimeoutSecondsPath` against the output of Parameters and ignores heartbeats. So the copy's
 * Parameters evaluate, against the state's input, the original Parameters and both paths:
 * `{ Parameters, TimeoutSecondsPath, HeartbeatSecondsPath }`, and its `TimeoutSecondsPath` reads
 * the resolved value from there (an invalid one fails the state with the interpreter's
 * States.Runtime, naming `$.TimeoutSecondsPath`). A state without a timeout gets
 * `unboundedCallbackTimeoutSeconds`. Everything else — Retry, Catch, ResultSelector, ResultPath —
 * is the original's.
 */
export function localCallbackState(state: Record<string, unknown>): Record<string, unknown> {
  const local: Record<string, unknown> = { ...state };
  const template: Record<string, unknown> =
    "Parameters" in state ? { Parameters: state.Parameters } : { "Parameters.$": "$" };
  if (typeof state.TimeoutSecondsPath === "string") {
    template["TimeoutSecondsPath.$"] = state.TimeoutSecondsPath;
    local.TimeoutSecondsPath = "$.TimeoutSecondsPath";
  } else if (typeof state.TimeoutSeconds !== "number") {
    local.TimeoutSeconds = unboundedCallbackTimeoutSeconds;
  }
  if (typeof state.HeartbeatSecondsPath === "string") {
    template["HeartbeatSecondsPath.$"] = state.HeartbeatSecondsPath;
  }
  local.Parameters = template;
  return local;
}

/** Reads what a callback state's local Parameters evaluated to. */
export function readCallbackInput(input: unknown): CallbackInput {
  if (typeof input !== "object" || input === null || Array.isArray(input) || !("Parameters" in input)) {
    throw new Error("a callback state's input is not its local Parameters");
  }
  return input as CallbackInput;
}

/** A seconds value a state may use as its timeout or heartbeat: a positive integer. */
export function isPositiveInteger(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 1;
}
