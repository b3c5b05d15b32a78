/**
 * One execution of a state machine on aws-local-stepfunctions: every Task state is bound (by
 * state name, nested ones included) to the caller's `invokeFunction`, the interpreter's events
 * and the Lambda invocations become AWS's history, and the outcome ends the record.
 *
 * The interpreter cannot resume a state it was in: an execution interrupted by the local cloud
 * stopping stays RUNNING on disk and is ABORTED when the local cloud starts again.
 */
import { randomUUID } from "node:crypto";
import { ExecutionError, ExecutionTimeoutError, type RunOptions } from "aws-local-stepfunctions";
import { accountId, type Log, region } from "../endpoints.ts";
import { type CompiledDefinition, scaledTimeOverrides, type TaskStateFacts } from "./definition.ts";
import type { ExecutionRecord, ExecutionStatus } from "./execution-store.ts";
import { ExecutionHistory, type InterpreterEvent, jsonText } from "./history.ts";

/** Invokes a Lambda function by ARN with a JSON input; a thrown error's `name` is its ASL error. */
export type InvokeFunction = (functionArn: string, input: unknown) => Promise<unknown>;

type LocalHandlers = NonNullable<NonNullable<RunOptions["overrides"]>["taskResourceLocalHandlers"]>;
type JsonValue = Parameters<LocalHandlers[string]>[0];

/** The optimised Lambda integration: input `{ FunctionName, Payload }`, output `{ Payload, … }`. */
export const lambdaInvokeResource = "arn:aws:states:::lambda:invoke";
const lambdaFunctionArnPattern = /^arn:aws:lambda:[^:]+:\d{12}:function:[^:]+(:[^:]+)?$/;

/** Whether a Task resource is one the local Step Functions can run (a Lambda function). */
export function isLambdaResource(resource: string): boolean {
  return resource === lambdaInvokeResource || lambdaFunctionArnPattern.test(resource);
}

function toJsonValue(value: unknown): JsonValue {
  return JSON.parse(JSON.stringify(value ?? null));
}

/** An error as the interpreter sees it: its name is the ASL error, its message the Cause. */
class TaskError extends Error {
  constructor(name: string, cause: string) {
    super(cause);
    this.name = name;
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
      taskResourceLocalHandlers[stateName] = (input) => this.runTask(stateName, task, input);
    }
    const stateMachineName = record.stateMachineArn.split(":").at(-1) ?? "";
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
    this.abortInterpreter?.();
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
    const optimised = task.resource === lambdaInvokeResource;
    const { functionArn, payload } = optimised
      ? optimisedInvocation(input)
      : { functionArn: task.resource, payload: input };
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
      const output = toJsonValue(await this.options.invokeFunction(functionArn, payload));
      clearTimeout(timer);
      if (timedOut) {
        timing("timed out");
        return output;
      }
      timing("succeeded");
      const result = optimised ? optimisedResult(output) : output;
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

function optimisedInvocation(input: JsonValue): { functionArn: string; payload: unknown } {
  if (
    typeof input !== "object" ||
    input === null ||
    Array.isArray(input) ||
    typeof input.FunctionName !== "string"
  ) {
    throw new TaskError("States.Runtime", "lambda:invoke needs Parameters with a FunctionName");
  }
  const name = input.FunctionName;
  const functionArn = name.startsWith("arn:")
    ? name
    : `arn:aws:lambda:${region}:${accountId}:function:${name}`;
  return { functionArn, payload: input.Payload ?? {} };
}

/** What the optimised integration returns: the function's response in `Payload`, with metadata. */
function optimisedResult(output: JsonValue): JsonValue {
  const requestId = randomUUID();
  return {
    ExecutedVersion: "$LATEST",
    Payload: output,
    SdkHttpMetadata: { HttpHeaders: { "x-amzn-RequestId": requestId }, HttpStatusCode: 200 },
    SdkResponseMetadata: { RequestId: requestId },
    StatusCode: 200,
  };
}
