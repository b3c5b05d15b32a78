/**
 * One attempt of a callback task (`lambda:invoke.waitForTaskToken`), from the claim of its token
 * to its end: the task's timeout and heartbeat clocks, and the answers SendTaskSuccess,
 * SendTaskFailure and SendTaskHeartbeat bring while the function runs or the task waits.
 */
import type { RunOptions } from "aws-local-stepfunctions";
import { isPositiveInteger, type TaskAnswer } from "./callbacks.ts";

export type LocalHandlers = NonNullable<NonNullable<RunOptions["overrides"]>["taskResourceLocalHandlers"]>;
export type JsonValue = Parameters<LocalHandlers[string]>[0];

/** How a callback task ended, once its history event has been recorded. */
export type CallbackDecision =
  | { kind: "succeeded"; output: JsonValue }
  | { kind: "failed"; error: string; cause: string }
  | { kind: "timed out" }
  | { kind: "heartbeat timed out"; cause: string }
  | { kind: "cancelled" };

export type CallbackOutcome = "Succeeded" | "Failed" | "TimedOut";

/** A timeout or heartbeat in seconds as a state gives it: absent, a positive integer, or invalid. */
export function secondsOf(value: unknown): number | undefined | "invalid" {
  if (value === undefined) return undefined;
  return isPositiveInteger(value) ? value : "invalid";
}

/**
 * One attempt of a callback task, from the claim of its token to its end. The token is open while
 * the function runs and while the task waits. An answer that comes while the function still runs
 * uses the token up but applies once the invocation has returned (history: TaskSubmitted, then
 * the answer's event); the task's timeout still runs until then.
 */
export class CallbackAttempt {
  private phase: "invoking" | "waiting" | "ended" = "invoking";
  private held: Exclude<TaskAnswer, { kind: "heartbeat" }> | undefined;
  private timeoutTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private decide: (decision: CallbackDecision) => void = () => {};
  /** Settles when the attempt has ended other than by its invocation's return or failure. */
  readonly decided = new Promise<CallbackDecision>((resolve) => {
    this.decide = resolve;
  });

  constructor(
    private readonly options: {
      stateName: string;
      timeoutSeconds: number | undefined;
      heartbeatSeconds: number | undefined;
      /** Records a Task<outcome> event of the callback integration. */
      event: (outcome: CallbackOutcome, details: Record<string, unknown>) => void;
      /** The token is used up: no longer open, and answers for it are TaskTimedOut. */
      closeToken: () => void;
    },
  ) {}

  get timeoutSeconds(): number | undefined {
    return this.options.timeoutSeconds;
  }

  get heartbeatSeconds(): number | undefined {
    return this.options.heartbeatSeconds;
  }

  get ended(): boolean {
    return this.phase === "ended";
  }

  /**
   * Starts the timeout and the heartbeat clock. Called in the handler's synchronous step: the
   * interpreter sets its own timer for the same timeout right after, so this one fires first,
   * records TaskTimedOut, and the interpreter's then fails the state with States.Timeout (which
   * States.TaskFailed does not match, as on AWS).
   */
  start(): void {
    const { timeoutSeconds } = this.options;
    if (timeoutSeconds !== undefined) {
      this.timeoutTimer = setTimeout(() => {
        if (this.ended) return;
        this.end();
        this.options.event("TimedOut", {
          error: "States.Timeout",
          cause: `${this.options.stateName} had no callback within ${timeoutSeconds} seconds`,
        });
        this.decide({ kind: "timed out" });
      }, timeoutSeconds * 1000);
    }
    this.restartHeartbeat();
  }

  answer(answer: TaskAnswer): void {
    if (this.ended || this.held !== undefined) return;
    if (answer.kind === "heartbeat") {
      this.restartHeartbeat();
      return;
    }
    if (this.phase === "invoking") {
      this.held = answer;
      clearTimeout(this.heartbeatTimer);
      this.options.closeToken();
      return;
    }
    this.end();
    this.decide(this.record(answer));
  }

  /** The execution has ended or the local cloud is stopping: the token is void, the state released. */
  cancel(): void {
    if (this.ended) return;
    this.end();
    this.decide({ kind: "cancelled" });
  }

  /** The function returned (TaskSubmitted is recorded): an answer held meanwhile applies now. */
  invocationReturned(): CallbackDecision | undefined {
    if (this.ended) return undefined;
    if (this.held !== undefined) {
      this.end();
      return this.record(this.held);
    }
    this.phase = "waiting";
    return undefined;
  }

  /** The function failed: so does the task, unless it has ended or was answered meanwhile. */
  invocationFailed(error: string, cause: string): CallbackDecision | undefined {
    if (this.ended) return undefined;
    this.end();
    if (this.held !== undefined) return this.record(this.held);
    this.options.event("Failed", { error, cause });
    return { kind: "failed", error, cause };
  }

  private restartHeartbeat(): void {
    const { heartbeatSeconds } = this.options;
    if (heartbeatSeconds === undefined) return;
    clearTimeout(this.heartbeatTimer);
    this.heartbeatTimer = setTimeout(() => {
      if (this.ended) return;
      const cause = `${this.options.stateName} had no heartbeat for ${heartbeatSeconds} seconds`;
      this.end();
      this.options.event("TimedOut", { error: "States.HeartbeatTimeout", cause });
      this.decide({ kind: "heartbeat timed out", cause });
    }, heartbeatSeconds * 1000);
  }

  /** Records the event of SendTaskSuccess or SendTaskFailure and says what the task does. */
  private record(answer: Exclude<TaskAnswer, { kind: "heartbeat" }>): CallbackDecision {
    if (answer.kind === "success") {
      this.options.event("Succeeded", { output: answer.output, outputDetails: { truncated: false } });
      return { kind: "succeeded", output: JSON.parse(answer.output) };
    }
    const details: Record<string, unknown> = {};
    if (answer.error !== undefined) details.error = answer.error;
    if (answer.cause !== undefined) details.cause = answer.cause;
    this.options.event("Failed", details);
    return { kind: "failed", error: answer.error ?? "", cause: answer.cause ?? "" };
  }

  private end(): void {
    this.phase = "ended";
    clearTimeout(this.timeoutTimer);
    clearTimeout(this.heartbeatTimer);
    this.options.closeToken();
  }
}
