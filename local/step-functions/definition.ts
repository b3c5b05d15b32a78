/**
 * Reading an ASL definition: compiling it for aws-local-stepfunctions (which validates it) and
 * finding the states the local runtime must treat specially — every Task (bound to a local
 * handler by state name), every Wait and Retry (scaled for tests) — also inside Map and Parallel.
 * Callback Task states run from a local copy of the definition (see `localCallbackState`).
 */
import { StateMachine, type StateMachineDefinition } from "aws-local-stepfunctions";
import * as z from "zod";
import { lambdaInvokeCallbackResource, localCallbackState } from "./callbacks.ts";

const retrierSchema = z.looseObject({ IntervalSeconds: z.number().optional() });

interface StateFacts {
  Type: string;
  Resource?: string | undefined;
  TimeoutSeconds?: number | undefined;
  TimeoutSecondsPath?: string | undefined;
  HeartbeatSeconds?: number | undefined;
  HeartbeatSecondsPath?: string | undefined;
  Seconds?: number | undefined;
  InputPath?: string | null | undefined;
  ItemsPath?: string | undefined;
  Retry?: z.infer<typeof retrierSchema>[] | undefined;
  Iterator?: MachineFacts | undefined;
  ItemProcessor?: MachineFacts | undefined;
  Branches?: MachineFacts[] | undefined;
}
interface MachineFacts {
  StartAt: string;
  States: Record<string, StateFacts>;
}

const stateSchema: z.ZodType<StateFacts> = z.lazy(() =>
  z.looseObject({
    Type: z.string(),
    Resource: z.string().optional(),
    TimeoutSeconds: z.number().optional(),
    TimeoutSecondsPath: z.string().optional(),
    HeartbeatSeconds: z.number().optional(),
    HeartbeatSecondsPath: z.string().optional(),
    Seconds: z.number().optional(),
    InputPath: z.string().nullable().optional(),
    ItemsPath: z.string().optional(),
    Retry: z.array(retrierSchema).optional(),
    Iterator: machineSchema.optional(),
    ItemProcessor: machineSchema.optional(),
    Branches: z.array(machineSchema).optional(),
  }),
);
const machineSchema: z.ZodType<MachineFacts> = z.lazy(() =>
  z.looseObject({ StartAt: z.string(), States: z.record(z.string(), stateSchema) }),
);

export class InvalidDefinitionError extends Error {
  override readonly name = "InvalidDefinition";
}

export interface TaskStateFacts {
  resource: string;
  /** The state's own timeout; the interpreter applies 60 s when the state has none. */
  timeoutSeconds: number;
  /** Set for callback states (`.waitForTaskToken`): their timeouts as written. */
  callback?: CallbackFacts | undefined;
}

/** A callback state's timeouts; paths are resolved against the state's input when it runs. */
export interface CallbackFacts {
  timeoutSeconds?: number | undefined;
  timeoutSecondsPath?: string | undefined;
  heartbeatSeconds?: number | undefined;
  heartbeatSecondsPath?: string | undefined;
}

export interface CompiledDefinition {
  machine: StateMachine;
  /** Every state by name (names are unique across a state machine, nested ones included). */
  states: Map<string, StateFacts>;
  tasks: Map<string, TaskStateFacts>;
}

function isStateMachineDefinition(value: unknown): value is StateMachineDefinition {
  return machineSchema.safeParse(value).success;
}

/** Parses and validates an ASL definition; throws InvalidDefinitionError with the reasons. */
export function compileDefinition(definition: string): CompiledDefinition {
  let parsed: unknown;
  try {
    parsed = JSON.parse(definition);
  } catch (error) {
    throw new InvalidDefinitionError(`Invalid State Machine Definition: not JSON (${String(error)})`);
  }
  if (!isStateMachineDefinition(parsed)) {
    throw new InvalidDefinitionError("Invalid State Machine Definition: StartAt and States are required");
  }
  try {
    new StateMachine(parsed, { validationOptions: { checkArn: true, checkPaths: true } });
  } catch (error) {
    throw new InvalidDefinitionError(error instanceof Error ? error.message : String(error));
  }
  // The definition is valid as written; the interpreter runs a local copy of it, validated above.
  const local = withLocalCallbackStates(parsed);
  const machine = new StateMachine(local as StateMachineDefinition, {
    validationOptions: { noValidate: true },
  });
  const states = new Map<string, StateFacts>();
  collectStates(machineSchema.parse(parsed), states);
  const tasks = new Map<string, TaskStateFacts>();
  for (const [name, state] of states) {
    if (state.Type === "Task" && state.Resource !== undefined) {
      const callback =
        state.Resource === lambdaInvokeCallbackResource
          ? {
              timeoutSeconds: state.TimeoutSeconds,
              timeoutSecondsPath: state.TimeoutSecondsPath,
              heartbeatSeconds: state.HeartbeatSeconds,
              heartbeatSecondsPath: state.HeartbeatSecondsPath,
            }
          : undefined;
      tasks.set(name, { resource: state.Resource, timeoutSeconds: state.TimeoutSeconds ?? 60, callback });
    }
  }
  return { machine, states, tasks };
}

/** A copy of a definition whose callback Task states, nested ones included, are their local copies. */
function withLocalCallbackStates(definition: unknown): unknown {
  const copy = structuredClone(definition);
  const visit = (machine: unknown): void => {
    if (!isRecord(machine) || !isRecord(machine.States)) return;
    for (const [name, state] of Object.entries(machine.States)) {
      if (!isRecord(state)) continue;
      if (state.Type === "Task" && state.Resource === lambdaInvokeCallbackResource) {
        machine.States[name] = localCallbackState(state);
      }
      visit(state.ItemProcessor ?? state.Iterator);
      if (Array.isArray(state.Branches)) for (const branch of state.Branches) visit(branch);
    }
  };
  visit(copy);
  return copy;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function collectStates(machine: MachineFacts, into: Map<string, StateFacts>): void {
  for (const [name, state] of Object.entries(machine.States)) {
    into.set(name, state);
    const nested = state.ItemProcessor ?? state.Iterator;
    if (nested !== undefined) collectStates(nested, into);
    for (const branch of state.Branches ?? []) collectStates(branch, into);
  }
}

/**
 * Per-state overrides (milliseconds) that scale Wait states with a fixed `Seconds` and every
 * retrier's `IntervalSeconds` by `scale`. A scaled retrier waits its scaled interval on every
 * attempt (the interpreter's overrides have no backoff). Waits given by `SecondsPath`,
 * `Timestamp` or `TimestampPath` depend on the input and run as written: give them small values
 * (0 is allowed) from the configuration under test. Callback timeouts and heartbeats are never
 * scaled: they are deadlines for an answer from elsewhere.
 */
export function scaledTimeOverrides(
  states: Map<string, StateFacts>,
  scale: number,
): { waitTimeOverrides: Record<string, number>; retryIntervalOverrides: Record<string, number[]> } {
  const waitTimeOverrides: Record<string, number> = {};
  const retryIntervalOverrides: Record<string, number[]> = {};
  if (scale === 1) return { waitTimeOverrides, retryIntervalOverrides };
  for (const [name, state] of states) {
    if (state.Type === "Wait" && state.Seconds !== undefined) {
      waitTimeOverrides[name] = Math.round(state.Seconds * 1000 * scale);
    }
    if (state.Retry !== undefined) {
      retryIntervalOverrides[name] = state.Retry.map((retrier) =>
        Math.round((retrier.IntervalSeconds ?? 1) * 1000 * scale),
      );
    }
  }
  return { waitTimeOverrides, retryIntervalOverrides };
}

/**
 * The number of items a Map state iterates over, when its InputPath and ItemsPath are plain
 * dotted paths (`$`, `$.a.b`); undefined otherwise.
 */
export function mapItemCount(state: StateFacts, rawInput: unknown): number | undefined {
  const input = state.InputPath === null ? {} : selectDottedPath(rawInput, state.InputPath ?? "$");
  const items = selectDottedPath(input, state.ItemsPath ?? "$");
  return Array.isArray(items) ? items.length : undefined;
}

function selectDottedPath(value: unknown, path: string): unknown {
  if (path === "$") return value;
  if (!/^\$(\.[A-Za-z0-9_-]+)+$/.test(path)) return undefined;
  let current = value;
  for (const segment of path.slice(2).split(".")) {
    if (typeof current !== "object" || current === null || Array.isArray(current)) return undefined;
    current = Object.entries(current).find(([key]) => key === segment)?.[1];
  }
  return current;
}
