/**
 * One execution of a state machine on aws-local-stepfunctions: every Task state is bound (by
 * state name, nested ones included) to the caller's `invokeFunction`, the interpreter's events
 * and the Lambda invocations become AWS's history, and the outcome ends the record.
 *
 * Callback tasks (`lambda:invoke.waitForTaskToken`) invoke their function, then wait for
 * SendTaskSuccess, SendTaskFailure or a timeout; the run keeps their outstanding tokens.
 *
 * The interpreter cannot resume a state it was in: an execution interrupted by the local cloud
 * stopping stays RUNNING on disk and is ABORTED when the local cloud starts again.
 */
import { randomUUID } from "node:crypto";
import { ExecutionError, ExecutionTimeoutError } from "aws-local-stepfunctions";
import { accountId, type Log, region } from "../endpoints.ts";
import {
  CallbackAttempt,
  type CallbackDecision,
  type CallbackOutcome,
  type JsonValue,
  type LocalHandlers,
  secondsOf,
} from "./callback-attempt.ts";
import {
  encodeTaskToken,
  lambdaInvokeCallbackResource,
  newNonce,
  readCallbackInput,
  type TaskAnswer,
  type TaskTokenState,
} from "./callbacks.ts";
import { type CompiledDefinition, scaledTimeOverrides, type TaskStateFacts } from "./definition.ts";
import type { ExecutionRecord, ExecutionStatus } from "./execution-store.ts";
import { ExecutionHistory, type InterpreterEvent, jsonText } from "./history.ts";

/** Invokes a Lambda function by ARN with a JSON input; a thrown error's `name` is its ASL error. */
export type InvokeFunction = (functionArn: string, input: unknown) => Promise<unknown>;

/**
 * Queues an asynchronous invocation (`InvocationType: "Event"`) and returns at once, as Lambda
 * does: the function runs later, with Lambda's retries, and its outcome is nobody's answer.
 */
export type QueueInvocation = (functionArn: string, input: unknown) => void;

/** The optimised Lambda integration: input `{ FunctionName, Payload }`, output `{ Payload, … }`. */
export const lambdaInvokeResource = "arn:aws:states:::lambda:invoke";
const lambdaFunctionArnPattern = /^arn:aws:lambda:[^:]+:\d{12}:function:[^:]+(:[^:]+)?$/;

/** Whether a Task resource is one the local Step Functions can run (a Lambda function). */
export function isLambdaResource(resource: string): boolean {
  return (
    resource === lambdaInvokeResource ||
    resource === lambdaInvokeCallbackResource ||
    lambdaFunctionArnPattern.test(resource)
  );
}

function toJsonValue(value: unknown): JsonValue {
  return JSON.parse(JSON.stringify(value ?? null));
}

/**
 * An error as the interpreter sees it: its name is the ASL error, its message the Cause. The
 * interpreter reads `isRetryable` and `isCatchable` (both true when absent).
 */
class TaskError extends Error {
  constructor(
    name: string,
    cause: string,
    readonly isRetryable = true,
    readonly isCatchable = true,
  ) {
    super(cause);
    this.name = name;
  }
}

/** States.Runtime, which neither Retry nor Catch matches (as on AWS). */
function runtimeError(cause: string): TaskError {
  return new TaskError("States.Runtime", cause, false, false);
}

/**
 * A handler's promise, marked handled: the interpreter may fail the state for its own reasons
 * between calling the handler and awaiting it (then nobody awaits it), and a rejection nobody
 * awaits must not take the local cloud down. The interpreter, when it awaits, still sees it.
 */
function awaitedOrNot<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => {});
  return promise;
}

/** What the handler of a callback state returns (or throws) for a decision. */
async function applyDecision(decision: CallbackDecision): Promise<JsonValue> {
  switch (decision.kind) {
    case "succeeded":
      return decision.output;
    case "failed":
      throw new TaskError(decision.error, decision.cause);
    case "heartbeat timed out":
      throw new TaskError("States.HeartbeatTimeout", decision.cause);
    case "timed out":
      // The interpreter's timer for the same time fires in this same round of timers and fails
      // the state with its own States.Timeout; settle after it, so that this is ignored.
      await new Promise((resolve) => setImmediate(resolve));
      throw new TaskError("States.Timeout", "the task timed out");
    case "cancelled":
      throw runtimeError("the execution has stopped");
  }
}

/** The Cause that Step Functions reports for an error thrown by a Node.js Lambda function. */
function lambdaErrorCause(error: unknown): { errorType: string; cause: string } {
  const errorType = error instanceof Error ? error.name : "Error";
  const errorMessage = error instanceof Error ? error.message : String(error);
  const trace = error instanceof Error && error.stack !== undefined ? error.stack.split("\n") : [];
  return { errorType, cause: JSON.stringify({ errorType, errorMessage, trace }) };
}

export interface ExecutionRunOptions {
  record: ExecutionRecord;
  compiled: CompiledDefinition;
  invokeFunction: InvokeFunction;
  queueInvocation: QueueInvocation;
  /** Multiplies fixed Wait seconds and retry intervals (1 = as written). */
  waitScale: number;
  /** Called after every change of the record (history, stats) while it runs. */
  onChange: (record: ExecutionRecord) => void;
  /** Called once when the execution reaches a terminal status. */
  onEnd: (record: ExecutionRecord) => Promise<void>;
  log: Log;
}

export class ExecutionRun {
  private readonly history: ExecutionHistory;
  private abortInterpreter: (() => void) | undefined;
  private interrupted = false;
  private finished = false;
  /** The nonce `$$.Task.Token` handed out for the attempt whose Parameters are being evaluated. */
  private pendingNonce: string | undefined;
  /** Callback attempts waiting for their token, by nonce. */
  private readonly openCallbacks = new Map<string, CallbackAttempt>();
  /** Nonces of callback attempts that have ended (answered, timed out, failed, cancelled). */
  private readonly closedNonces = new Set<string>();
  /** Settles when the interpreter has finished and the record is final (or interrupted). */
  done: Promise<void> = Promise.resolve();

  constructor(private readonly options: ExecutionRunOptions) {
    this.history = new ExecutionHistory(options.record.events);
  }

  get record(): ExecutionRecord {
    return this.options.record;
  }

  /** Records ExecutionStarted and runs the interpreter in the background. */
  start(): void {
    const { record, compiled, waitScale } = this.options;
    this.history.add("ExecutionStarted", "executionStartedEventDetails", {
      input: record.input,
      inputDetails: { truncated: false },
      roleArn: `arn:aws:iam::${accountId}:role/kiln-local-step-functions`,
    });
    this.changed();

    const taskResourceLocalHandlers: LocalHandlers = {};
    for (const [stateName, task] of compiled.tasks) {
      taskResourceLocalHandlers[stateName] =
        task.callback === undefined
          ? (input) => this.runTask(stateName, task, input)
          : (input) => this.runCallbackTask(stateName, task, input);
    }
    const stateMachineName = record.stateMachineArn.split(":").at(-1) ?? "";
    // The interpreter copies the context once per execution (a shallow copy: this object stays),
    // so a getter is what gives each attempt of a callback state its own token. The interpreter
    // evaluates a state's Parameters and calls its handler in one synchronous step, so the
    // handler claims the nonce its Parameters just read (reading the token twice in one
    // Parameters gives the same token).
    const token = () => {
      this.pendingNonce ??= newNonce();
      return encodeTaskToken(record.executionArn, this.pendingNonce);
    };
    const task = {
      get Token(): string {
        return token();
      },
    };
    const execution = compiled.machine.run(JSON.parse(record.input), {
      overrides: { taskResourceLocalHandlers, ...scaledTimeOverrides(compiled.states, waitScale) },
      noThrowOnAbort: true,
      context: {
        Execution: {
          Id: record.executionArn,
          Name: record.name,
          RoleArn: "",
          StartTime: new Date(record.startDate).toISOString(),
        },
        StateMachine: { Id: record.stateMachineArn, Name: stateMachineName },
        Task: task,
      },
    });
    this.abortInterpreter = execution.abort;
    const consumed = this.consume(execution.eventLogs);
    const outcome = execution.result.then(
      (output) => ({ ok: true as const, output }),
      (error: unknown) => ({ ok: false as const, error }),
    );
    // Both must finish: the outcome can settle before the last events have been read.
    this.done = Promise.all([consumed, outcome]).then(([, result]) => this.conclude(result));
  }

  /** StopExecution: ABORTED at once with the given error and cause, then the interpreter stops. */
  async stop(error: string | undefined, cause: string | undefined): Promise<void> {
    const details: Record<string, unknown> = {};
    if (error !== undefined) details.error = error;
    if (cause !== undefined) details.cause = cause;
    // finish marks the run finished before it awaits, so the aborted interpreter's last
    // events and its null result are ignored.
    const ended = this.finish("ABORTED", { error, cause }, [
      "ExecutionAborted",
      "executionAbortedEventDetails",
      details,
    ]);
    this.abortInterpreter?.();
    await ended;
  }

  /** The local cloud is stopping: halt the interpreter, leave the record RUNNING. */
  interrupt(): void {
    this.interrupted = true;
    this.cancelCallbacks();
    this.abortInterpreter?.();
  }

  /** Whether the callback attempt given `nonce` waits for its answer, has ended, or never was. */
  taskTokenState(nonce: string): TaskTokenState {
    if (this.openCallbacks.has(nonce) && !this.finished && !this.interrupted) return "open";
    return this.openCallbacks.has(nonce) || this.closedNonces.has(nonce) ? "ended" : "unknown";
  }

  /** SendTaskSuccess, SendTaskFailure or SendTaskHeartbeat for an open token (see taskTokenState). */
  answerTask(nonce: string, answer: TaskAnswer): void {
    if (this.taskTokenState(nonce) === "open") this.openCallbacks.get(nonce)?.answer(answer);
  }

  private cancelCallbacks(): void {
    for (const open of [...this.openCallbacks.values()]) open.cancel();
  }

  /**
   * Invokes the function and resolves with its response; an Event invocation is queued instead,
   * and resolves with nothing at once, as Lambda accepts it (202, an empty Payload).
   */
  private invoke({ functionArn, payload, queued }: Invocation): Promise<unknown> {
    if (!queued) return this.options.invokeFunction(functionArn, payload);
    this.options.queueInvocation(functionArn, payload);
    return Promise.resolve(null);
  }

  private async consume(events: AsyncGenerator<InterpreterEvent>): Promise<void> {
    try {
      for await (const event of events) {
        if (this.finished || this.interrupted) continue;
        if (event.type === "StateEntered" || event.type === "StateRetried")
          this.record.stats.stateTransitions += 1;
        this.history.recordInterpreterEvent(event, this.options.compiled.states);
        this.changed();
      }
    } catch (error) {
      this.options.log(`sfn: history of ${this.record.executionArn} is incomplete: ${String(error)}`);
    }
  }

  private async runTask(stateName: string, task: TaskStateFacts, input: JsonValue): Promise<JsonValue> {
    // A token read by a state that is not a callback is nobody's (and must not become the next one's).
    this.pendingNonce = undefined;
    const optimised = task.resource === lambdaInvokeResource;
    const { functionArn, payload, queued } = optimised
      ? optimisedInvocation(input)
      : { functionArn: task.resource, payload: input, queued: false };
    let timedOut = false;
    // Set before the interpreter sets its own timer for the same duration, so this one fires
    // first and records the timeout; the interpreter's timer then fails the state.
    const timer = setTimeout(() => {
      timedOut = true;
      this.taskEvent(optimised, "TimedOut", { error: "States.Timeout", cause: `${stateName} timed out` });
    }, task.timeoutSeconds * 1000);

    // Let the interpreter's pending events (this state's entry) reach the history first.
    await new Promise((resolve) => setImmediate(resolve));
    if (this.finished || this.interrupted) {
      clearTimeout(timer);
      throw new TaskError("States.Runtime", "the execution has stopped");
    }
    if (optimised) {
      this.history.add("TaskScheduled", "taskScheduledEventDetails", {
        resourceType: "lambda",
        resource: "invoke",
        region,
        parameters: jsonText(input),
        timeoutInSeconds: task.timeoutSeconds,
      });
      this.history.add("TaskStarted", "taskStartedEventDetails", {
        resourceType: "lambda",
        resource: "invoke",
      });
    } else {
      this.history.add("LambdaFunctionScheduled", "lambdaFunctionScheduledEventDetails", {
        resource: functionArn,
        input: jsonText(payload),
        inputDetails: { truncated: false },
        timeoutInSeconds: task.timeoutSeconds,
      });
      this.history.add("LambdaFunctionStarted");
    }
    this.changed();

    const startedAt = Date.now();
    const started = performance.now();
    const timing = (outcome: "succeeded" | "failed" | "timed out") =>
      this.record.stats.tasks.push({
        state: stateName,
        functionArn,
        startedAt,
        durationMs: performance.now() - started,
        outcome,
      });
    try {
      const output = toJsonValue(await this.invoke({ functionArn, payload, queued }));
      clearTimeout(timer);
      if (timedOut) {
        timing("timed out");
        return output;
      }
      timing("succeeded");
      const result = optimised ? optimisedResult(output, queued) : output;
      this.taskEvent(optimised, "Succeeded", {
        output: jsonText(result),
        outputDetails: { truncated: false },
      });
      return result;
    } catch (error) {
      clearTimeout(timer);
      timing(timedOut ? "timed out" : "failed");
      const { errorType, cause } = lambdaErrorCause(error);
      if (!timedOut) this.taskEvent(optimised, "Failed", { error: errorType, cause });
      throw new TaskError(errorType, cause);
    }
  }

  /**
   * A callback task: invoke the function with the Payload (its response is not the result), then
   * wait for SendTaskSuccess (the result: the parsed `output`) or SendTaskFailure (the task fails
   * with `error` and `cause`). The function's own error fails the task, like the Lambda
   * integration; `TimeoutSeconds(Path)` gives States.Timeout and `HeartbeatSeconds(Path)`
   * States.HeartbeatTimeout. History: TaskScheduled, TaskStarted, TaskSubmitted (the invocation
   * returned), then TaskSucceeded, TaskFailed or TaskTimedOut.
   *
   * Not async: the interpreter evaluates the state's Parameters (reading `$$.Task.Token`) and
   * calls this handler in one synchronous step, and sets its own timeout timer right after the
   * handler returns. So the token is claimed, and the attempt's timer set, before that.
   */
  private runCallbackTask(stateName: string, task: TaskStateFacts, input: JsonValue): Promise<JsonValue> {
    const nonce = this.pendingNonce ?? newNonce();
    this.pendingNonce = undefined;
    const callback = task.callback ?? {};
    const local = readCallbackInput(input);
    const timeoutSeconds = secondsOf(
      callback.timeoutSecondsPath === undefined ? callback.timeoutSeconds : local.TimeoutSecondsPath,
    );
    // The interpreter reads the same value and fails the state with States.Runtime before it
    // awaits the promise returned here, which therefore must not reject.
    if (timeoutSeconds === "invalid") return Promise.resolve(null);
    const heartbeat =
      callback.heartbeatSecondsPath === undefined ? callback.heartbeatSeconds : local.HeartbeatSecondsPath;
    const heartbeatSeconds = secondsOf(heartbeat);
    if (heartbeatSeconds === "invalid") {
      return awaitedOrNot(
        Promise.reject(
          runtimeError(
            `HeartbeatSecondsPath evaluated to ${jsonText(heartbeat)}, but expected an integer >= 1`,
          ),
        ),
      );
    }
    if (this.finished || this.interrupted) {
      return awaitedOrNot(Promise.reject(runtimeError("the execution has stopped")));
    }
    const attempt = new CallbackAttempt({
      stateName,
      timeoutSeconds,
      heartbeatSeconds,
      event: (outcome, details) => this.callbackEvent(outcome, details),
      closeToken: () => {
        this.openCallbacks.delete(nonce);
        this.closedNonces.add(nonce);
      },
    });
    this.openCallbacks.set(nonce, attempt);
    attempt.start();
    return awaitedOrNot(this.waitForCallback(stateName, toJsonValue(local.Parameters), attempt));
  }

  private async waitForCallback(
    stateName: string,
    parameters: JsonValue,
    attempt: CallbackAttempt,
  ): Promise<JsonValue> {
    // Let the interpreter's pending events (this state's entry) reach the history first.
    await new Promise((resolve) => setImmediate(resolve));
    if (attempt.ended) return applyDecision(await attempt.decided);
    let invocation: Invocation;
    try {
      invocation = optimisedInvocation(parameters);
    } catch (error) {
      attempt.cancel();
      throw error;
    }
    const { functionArn, queued } = invocation;
    const { timeoutSeconds, heartbeatSeconds } = attempt;
    this.history.add("TaskScheduled", "taskScheduledEventDetails", {
      ...callbackResource,
      region,
      parameters: jsonText(parameters),
      ...(timeoutSeconds === undefined ? {} : { timeoutInSeconds: timeoutSeconds }),
      ...(heartbeatSeconds === undefined ? {} : { heartbeatInSeconds: heartbeatSeconds }),
    });
    this.history.add("TaskStarted", "taskStartedEventDetails", callbackResource);
    this.changed();

    // The task's timing in the stats is the invocation's own duration, which is what Lambda
    // bills; the wait for the callback is not in it (a Standard workflow bills transitions).
    const startedAt = Date.now();
    const started = performance.now();
    const invoked = this.invoke(invocation).then(
      (response) => ({ ok: true as const, response: toJsonValue(response) }),
      (error: unknown) => ({ ok: false as const, error }),
    );
    const first = await Promise.race([invoked, attempt.decided]);
    if (!("ok" in first)) {
      // Timed out or cancelled while the function ran: its response no longer matters.
      const timedOut = first.kind === "timed out" || first.kind === "heartbeat timed out";
      void invoked.then((settled) =>
        this.timing(
          stateName,
          functionArn,
          startedAt,
          started,
          timedOut ? "timed out" : settled.ok ? "succeeded" : "failed",
        ),
      );
      return applyDecision(first);
    }
    this.timing(stateName, functionArn, startedAt, started, first.ok ? "succeeded" : "failed");
    let decision: CallbackDecision | undefined;
    if (first.ok) {
      if (!attempt.ended) {
        this.callbackEvent("Submitted", {
          output: jsonText(optimisedResult(first.response, queued)),
          outputDetails: { truncated: false },
        });
      }
      decision = attempt.invocationReturned();
    } else {
      const { errorType, cause } = lambdaErrorCause(first.error);
      decision = attempt.invocationFailed(errorType, cause);
    }
    return applyDecision(decision ?? (await attempt.decided));
  }

  private timing(
    state: string,
    functionArn: string,
    startedAt: number,
    started: number,
    outcome: "succeeded" | "failed" | "timed out",
  ): void {
    this.record.stats.tasks.push({
      state,
      functionArn,
      startedAt,
      durationMs: performance.now() - started,
      outcome,
    });
  }

  private callbackEvent(outcome: CallbackOutcome | "Submitted", details: Record<string, unknown>): void {
    if (this.finished || this.interrupted) return;
    this.history.add(`Task${outcome}`, `task${outcome}EventDetails`, { ...callbackResource, ...details });
    this.changed();
  }

  private taskEvent(
    optimised: boolean,
    outcome: "Succeeded" | "Failed" | "TimedOut",
    details: Record<string, unknown>,
  ): void {
    if (this.finished || this.interrupted) return;
    if (optimised) {
      this.history.add(`Task${outcome}`, `task${outcome}EventDetails`, {
        resourceType: "lambda",
        resource: "invoke",
        ...details,
      });
    } else {
      this.history.add(`LambdaFunction${outcome}`, `lambdaFunction${outcome}EventDetails`, details);
    }
    this.changed();
  }

  private async conclude(
    result: { ok: true; output: unknown } | { ok: false; error: unknown },
  ): Promise<void> {
    if (this.finished || this.interrupted) return;
    if (result.ok) {
      const output = jsonText(result.output);
      await this.finish("SUCCEEDED", { output }, [
        "ExecutionSucceeded",
        "executionSucceededEventDetails",
        { output, outputDetails: { truncated: false } },
      ]);
      return;
    }
    if (result.error instanceof ExecutionTimeoutError) {
      const failure = {
        error: "States.Timeout",
        cause: "The execution ran longer than the state machine's TimeoutSeconds.",
      };
      await this.finish("TIMED_OUT", failure, [
        "ExecutionTimedOut",
        "executionTimedOutEventDetails",
        failure,
      ]);
      return;
    }
    const inner = result.error instanceof ExecutionError ? result.error.cause : result.error;
    const failure =
      inner instanceof Error
        ? { error: inner.name, cause: inner.message }
        : { error: "States.Runtime", cause: String(inner) };
    await this.finish("FAILED", failure, ["ExecutionFailed", "executionFailedEventDetails", failure]);
  }

  private async finish(
    status: Exclude<ExecutionStatus, "RUNNING">,
    outcome: { output?: string | undefined; error?: string | undefined; cause?: string | undefined },
    event: [type: string, detailsKey: string, details: Record<string, unknown>],
  ): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    this.cancelCallbacks();
    const { record } = this;
    record.status = status;
    record.stopDate = Date.now();
    if (outcome.output !== undefined) record.output = outcome.output;
    if (outcome.error !== undefined) record.error = outcome.error;
    if (outcome.cause !== undefined) record.cause = outcome.cause;
    this.history.add(...event);
    await this.options.onEnd(record);
  }

  private changed(): void {
    this.options.onChange(this.record);
  }
}

/** How the history names the callback integration. */
const callbackResource = { resourceType: "lambda", resource: "invoke.waitForTaskToken" };

/** A Lambda invocation a Task state makes; `queued` for an Event (asynchronous) invocation. */
interface Invocation {
  functionArn: string;
  payload: unknown;
  queued: boolean;
}

function optimisedInvocation(input: JsonValue): Invocation {
  if (
    typeof input !== "object" ||
    input === null ||
    Array.isArray(input) ||
    typeof input.FunctionName !== "string"
  ) {
    throw runtimeError("lambda:invoke needs Parameters with a FunctionName");
  }
  const invocationType = input.InvocationType ?? "RequestResponse";
  if (invocationType !== "RequestResponse" && invocationType !== "Event") {
    throw runtimeError(
      `lambda:invoke's InvocationType is ${jsonText(invocationType)}; the local cloud runs "RequestResponse" and "Event"`,
    );
  }
  const name = input.FunctionName;
  const functionArn = name.startsWith("arn:")
    ? name
    : `arn:aws:lambda:${region}:${accountId}:function:${name}`;
  return { functionArn, payload: input.Payload ?? {}, queued: invocationType === "Event" };
}

/**
 * What the optimised integration returns: the function's response in `Payload`, with metadata;
 * for a queued (Event) invocation, status 202 and an empty Payload.
 */
function optimisedResult(output: JsonValue, queued: boolean): JsonValue {
  const requestId = randomUUID();
  const statusCode = queued ? 202 : 200;
  return {
    ...(queued ? {} : { ExecutedVersion: "$LATEST" }),
    Payload: queued ? "" : output,
    SdkHttpMetadata: { HttpHeaders: { "x-amzn-RequestId": requestId }, HttpStatusCode: statusCode },
    SdkResponseMetadata: { RequestId: requestId },
    StatusCode: statusCode,
  };
}
