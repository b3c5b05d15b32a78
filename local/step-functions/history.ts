/**
 * An execution's event history in AWS's HistoryEvent shape, built from the events of
 * aws-local-stepfunctions (state entered/exited, map iterations) and from the local Lambda
 * invocations of Task states (scheduled, started, succeeded, failed, timed out).
 */
import type { StateMachine } from "aws-local-stepfunctions";
import * as z from "zod";
import { mapItemCount } from "./definition.ts";

export const historyEventSchema = z.object({
  id: z.number(),
  previousEventId: z.number(),
  /** Milliseconds since the epoch; the JSON protocol renders seconds. */
  timestamp: z.number(),
  type: z.string(),
  /** The AWS field holding the details, e.g. `stateEnteredEventDetails`. */
  detailsKey: z.string().optional(),
  details: z.record(z.string(), z.unknown()).optional(),
});
export type HistoryEvent = z.infer<typeof historyEventSchema>;

/** One event as aws-local-stepfunctions reports it. */
export type InterpreterEvent =
  ReturnType<StateMachine["run"]>["eventLogs"] extends AsyncGenerator<infer Event> ? Event : never;

const untruncated = { truncated: false };

/** JSON text of a value, as the history carries inputs and outputs. */
export function jsonText(value: unknown): string {
  return JSON.stringify(value ?? null);
}

export class ExecutionHistory {
  constructor(readonly events: HistoryEvent[] = []) {}

  add(type: string, detailsKey?: string, details?: Record<string, unknown>): HistoryEvent {
    const id = this.events.length + 1;
    const event: HistoryEvent = { id, previousEventId: id - 1, timestamp: Date.now(), type };
    if (detailsKey !== undefined && details !== undefined) {
      event.detailsKey = detailsKey;
      event.details = details;
    }
    this.events.push(event);
    return event;
  }

  stateEntered(stateType: string, name: string, input: unknown): void {
    this.add(`${stateType}StateEntered`, "stateEnteredEventDetails", {
      name,
      input: jsonText(input),
      inputDetails: untruncated,
    });
  }

  stateExited(stateType: string, name: string, output: unknown): void {
    this.add(`${stateType}StateExited`, "stateExitedEventDetails", {
      name,
      output: jsonText(output),
      outputDetails: untruncated,
    });
  }

  /**
   * Records what the interpreter reports. Execution-level events are left to the caller, which
   * knows how the execution ended (including stops that the interpreter never sees); retries and
   * catches have no event of their own on AWS (the next Lambda event, or the state's exit, tells).
   */
  recordInterpreterEvent(event: InterpreterEvent, states: Map<string, { Type: string }>): void {
    switch (event.type) {
      case "StateEntered": {
        const { name, type, input } = event.state;
        this.stateEntered(type, name, input);
        const state = states.get(name);
        if (type === "Map" && state !== undefined) {
          const length = mapItemCount(state, input);
          this.add("MapStateStarted", "mapStateStartedEventDetails", length === undefined ? {} : { length });
        }
        if (type === "Parallel") this.add("ParallelStateStarted");
        return;
      }
      case "StateExited": {
        const { name, type, output } = event.state;
        if (type === "Map") this.add("MapStateSucceeded");
        if (type === "Parallel") this.add("ParallelStateSucceeded");
        this.stateExited(type, name, output);
        return;
      }
      case "StateFailed":
        if (event.state.type === "Map") this.add("MapStateFailed");
        if (event.state.type === "Parallel") this.add("ParallelStateFailed");
        return;
      case "MapIterationStarted":
      case "MapIterationSucceeded":
        this.add(event.type, `${lowerFirst(event.type)}EventDetails`, {
          name: event.parentState.name,
          index: event.index,
        });
        return;
      case "MapIterationFailed":
        this.add(event.type, "mapIterationFailedEventDetails", {
          name: event.parentState.name,
          index: event.index,
        });
        return;
      default:
        return;
    }
  }
}

function lowerFirst(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}

/** A history event as the JSON protocol returns it; without inputs and outputs when asked. */
export function renderHistoryEvent(
  event: HistoryEvent,
  includeExecutionData: boolean,
): Record<string, unknown> {
  const rendered: Record<string, unknown> = {
    id: event.id,
    previousEventId: event.previousEventId,
    timestamp: event.timestamp / 1000,
    type: event.type,
  };
  if (event.detailsKey !== undefined && event.details !== undefined) {
    const details = { ...event.details };
    if (!includeExecutionData) {
      for (const field of ["input", "output", "parameters", "inputDetails", "outputDetails"])
        delete details[field];
    }
    rendered[event.detailsKey] = details;
  }
  return rendered;
}
