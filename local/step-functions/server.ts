/**
 * The local Step Functions: a JSON 1.0 endpoint on 127.0.0.1 that stores state machines and runs
 * their executions with aws-local-stepfunctions, Task states bound to local Lambda functions.
 *
 * Actions: CreateStateMachine, UpdateStateMachine, DeleteStateMachine, DescribeStateMachine,
 * ListStateMachines, StartExecution, DescribeExecution, StopExecution, ListExecutions,
 * GetExecutionHistory, and SendTaskSuccess, SendTaskFailure, SendTaskHeartbeat for callback tasks.
 * Only STANDARD state machines whose tasks are Lambda functions.
 *
 * Executions persist under `<stateDir>/sfn/`. The interpreter cannot resume an execution in the
 * middle of a state, so executions still RUNNING when the local cloud stopped are ABORTED (with
 * a status-change event) when it starts again.
 */
import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import { join } from "node:path";
import * as z from "zod";
import { closeServer, type Log, listen } from "../endpoints.ts";
import { EventDelivery } from "../event-delivery.ts";
import { executionArn, isValidName, stateMachineArn, stateMachineNameOf } from "./arns.ts";
import { decodeTaskToken } from "./callbacks.ts";
import { type CompiledDefinition, compileDefinition, InvalidDefinitionError } from "./definition.ts";
import { ExecutionRun, type InvokeFunction, isLambdaResource } from "./execution-run.ts";
import {
  type ExecutionRecord,
  type ExecutionStats,
  ExecutionStore,
  executionStatuses,
  type StateMachineRecord,
} from "./execution-store.ts";
import { ExecutionHistory, renderHistoryEvent } from "./history.ts";
import { handleJsonRequest, pageOf, type SfnAction, SfnError } from "./json-protocol.ts";
import { type ExecutionStatusChangeEvent, executionStatusChangeEvent } from "./status-change-event.ts";

export type { InvokeFunction } from "./execution-run.ts";
export type { ExecutionRecord, ExecutionStats, TaskTiming } from "./execution-store.ts";
export type { ExecutionStatusChangeEvent } from "./status-change-event.ts";

export interface StepFunctionsOptions {
  stateDir: string;
  port?: number;
  invokeFunction: InvokeFunction;
  /** Receives the status-change event of every execution that ends, asynchronously, at least once. */
  onExecutionStatusChange?: (event: ExecutionStatusChangeEvent) => Promise<void>;
  /** Multiplies fixed Wait seconds and retry intervals; 1 (the default) runs them as written. */
  waitScale?: number;
  log?: Log;
}

export interface ExecutionStatsReport extends ExecutionStats {
  status: ExecutionRecord["status"];
  /** Start to stop (or to now, while running). */
  durationMs: number;
}

export interface LocalStepFunctions {
  url: string;
  /** State transitions and per-task durations of an execution (for benchmarks). */
  stats(executionArn: string): ExecutionStatsReport | undefined;
  /** Resolves with the execution's final record once it has ended. */
  whenEnded(executionArn: string): Promise<ExecutionRecord>;
  /**
   * Resolves once every status-change event and every queued (Event) invocation so far has been
   * delivered (or dropped).
   */
  settled(): Promise<void>;
  /** Stops the endpoint; running executions stay RUNNING on disk (see the module comment). */
  close(): Promise<void>;
}

interface StateMachineEntry {
  record: StateMachineRecord;
  compiled?: CompiledDefinition;
}

const arnInput = z.string().min(1);
const maxResultsInput = z.number().int().min(0).max(1000).optional();
const taskTokenInput = z.string().min(1).max(2048);
/** SendTaskSuccess's output: at most 256 KiB of UTF-8. */
const taskOutputInput = z
  .string()
  .refine((text) => Buffer.byteLength(text, "utf8") <= 262144, "output is longer than 262144 bytes");

const inputs = {
  CreateStateMachine: z.looseObject({
    name: z.string(),
    definition: z.string(),
    roleArn: z.string().min(1),
    type: z.enum(["STANDARD", "EXPRESS"]).optional(),
  }),
  UpdateStateMachine: z.looseObject({
    stateMachineArn: arnInput,
    definition: z.string().optional(),
    roleArn: z.string().optional(),
  }),
  DeleteStateMachine: z.looseObject({ stateMachineArn: arnInput }),
  DescribeStateMachine: z.looseObject({ stateMachineArn: arnInput }),
  ListStateMachines: z.looseObject({ maxResults: maxResultsInput, nextToken: z.string().optional() }),
  StartExecution: z.looseObject({
    stateMachineArn: arnInput,
    name: z.string().optional(),
    input: z.string().optional(),
  }),
  DescribeExecution: z.looseObject({ executionArn: arnInput }),
  StopExecution: z.looseObject({
    executionArn: arnInput,
    error: z.string().max(256).optional(),
    cause: z.string().max(32768).optional(),
  }),
  ListExecutions: z.looseObject({
    stateMachineArn: arnInput.optional(),
    statusFilter: z.enum(executionStatuses).optional(),
    maxResults: maxResultsInput,
    nextToken: z.string().optional(),
  }),
  GetExecutionHistory: z.looseObject({
    executionArn: arnInput,
    maxResults: maxResultsInput,
    reverseOrder: z.boolean().optional(),
    nextToken: z.string().optional(),
    includeExecutionData: z.boolean().optional(),
  }),
  SendTaskSuccess: z.looseObject({ taskToken: taskTokenInput, output: taskOutputInput }),
  SendTaskFailure: z.looseObject({
    taskToken: taskTokenInput,
    error: z.string().max(256).optional(),
    cause: z.string().max(32768).optional(),
  }),
  SendTaskHeartbeat: z.looseObject({ taskToken: taskTokenInput }),
};

const seconds = (ms: number) => ms / 1000;

/** Starts the local Step Functions endpoint and returns it. */
export async function startStepFunctions(options: StepFunctionsOptions): Promise<LocalStepFunctions> {
  const log = options.log ?? (() => {});
  const waitScale = options.waitScale ?? 1;
  const store = new ExecutionStore(join(options.stateDir, "sfn"));
  const delivery = new EventDelivery({ log: (line) => log(`sfn: ${line}`) });
  const stored = await store.load();
  const stateMachines = new Map<string, StateMachineEntry>(
    stored.stateMachines.map((record) => [record.stateMachineArn, { record }]),
  );
  const executions = new Map<string, ExecutionRecord>(
    stored.executions.map((record) => [record.executionArn, record]),
  );
  const runs = new Map<string, ExecutionRun>();

  function deliverStatusChange(record: ExecutionRecord): void {
    const send = options.onExecutionStatusChange;
    if (send === undefined) return;
    const event = executionStatusChangeEvent(record);
    delivery.deliver(`status change ${record.status} of ${record.executionArn}`, () => send(event));
  }

  // What the interpreter was doing when the local cloud stopped is lost: abort, as promised.
  for (const record of executions.values()) {
    if (record.status !== "RUNNING") continue;
    const error = "LocalCloudStopped";
    const cause = "The local cloud stopped while this execution ran; its interpreter cannot resume a state.";
    Object.assign(record, { status: "ABORTED", stopDate: Date.now(), error, cause });
    new ExecutionHistory(record.events).add("ExecutionAborted", "executionAbortedEventDetails", {
      error,
      cause,
    });
    await store.saveNow(record);
    log(`sfn: aborted ${record.executionArn}, interrupted when the local cloud stopped`);
    deliverStatusChange(record);
  }

  function machineEntry(arn: string): StateMachineEntry {
    const entry = stateMachines.get(arn);
    if (entry === undefined) {
      if (stateMachineNameOf(arn) === undefined) throw new SfnError("InvalidArn", `Invalid Arn: '${arn}'`);
      throw new SfnError("StateMachineDoesNotExist", `State Machine Does Not Exist: '${arn}'`);
    }
    return entry;
  }

  function execution(arn: string): ExecutionRecord {
    const record = executions.get(arn);
    if (record === undefined) {
      if (!arn.startsWith("arn:aws:states:")) throw new SfnError("InvalidArn", `Invalid Arn: '${arn}'`);
      throw new SfnError("ExecutionDoesNotExist", `Execution Does Not Exist: '${arn}'`);
    }
    return record;
  }

  /**
   * The waiting task a token names. A string that is not a token this endpoint issues is
   * InvalidToken; a token whose task has ended (answered, timed out, failed, or its execution
   * ended, also before a restart) is TaskTimedOut; a well-formed token that no task was given
   * (or of an execution that does not exist) is TaskDoesNotExist.
   */
  function waitingTask(taskToken: string): { run: ExecutionRun; nonce: string } {
    const decoded = decodeTaskToken(taskToken);
    if (decoded === undefined) {
      throw new SfnError("InvalidToken", "Invalid Token: the token was not issued by this Step Functions");
    }
    const record = executions.get(decoded.executionArn);
    const run = runs.get(decoded.executionArn);
    const state =
      record === undefined
        ? "unknown"
        : record.status !== "RUNNING" || run === undefined
          ? "ended"
          : run.taskTokenState(decoded.nonce);
    if (state === "unknown") {
      throw new SfnError("TaskDoesNotExist", "Task Does Not Exist: no task was given this token");
    }
    if (state === "ended" || run === undefined) {
      throw new SfnError("TaskTimedOut", "Task Timed Out: 'Provided task does not exist anymore'");
    }
    return { run, nonce: decoded.nonce };
  }

  function compile(definition: string): CompiledDefinition {
    try {
      const compiled = compileDefinition(definition);
      for (const [stateName, task] of compiled.tasks) {
        if (!isLambdaResource(task.resource)) {
          throw new InvalidDefinitionError(
            `Invalid State Machine Definition: the local Step Functions runs Lambda tasks only; state '${stateName}' has resource '${task.resource}'`,
          );
        }
      }
      return compiled;
    } catch (error) {
      if (error instanceof InvalidDefinitionError) throw new SfnError("InvalidDefinition", error.message);
      throw error;
    }
  }

  function compiledFor(entry: StateMachineEntry): CompiledDefinition {
    entry.compiled ??= compile(entry.record.definition);
    return entry.compiled;
  }

  const saveStateMachines = () =>
    store.saveStateMachines([...stateMachines.values()].map((entry) => entry.record));

  function newestFirst(records: ExecutionRecord[]): ExecutionRecord[] {
    return records.sort((a, b) => b.startDate - a.startDate || b.executionArn.localeCompare(a.executionArn));
  }

  const actions: Record<string, SfnAction> = {
    async CreateStateMachine(body) {
      const input = inputs.CreateStateMachine.parse(body);
      if (!isValidName(input.name)) throw new SfnError("InvalidName", `Invalid Name: '${input.name}'`);
      if (input.type === "EXPRESS") {
        throw new SfnError(
          "ValidationException",
          "The local Step Functions runs STANDARD state machines only",
        );
      }
      const arn = stateMachineArn(input.name);
      const existing = stateMachines.get(arn);
      if (existing !== undefined) {
        // AWS answers an identical create with the existing machine.
        if (existing.record.definition === input.definition && existing.record.roleArn === input.roleArn) {
          return { stateMachineArn: arn, creationDate: seconds(existing.record.creationDate) };
        }
        throw new SfnError("StateMachineAlreadyExists", `State Machine Already Exists: '${arn}'`);
      }
      const compiled = compile(input.definition);
      const record: StateMachineRecord = {
        stateMachineArn: arn,
        name: input.name,
        definition: input.definition,
        roleArn: input.roleArn,
        type: "STANDARD",
        creationDate: Date.now(),
      };
      stateMachines.set(arn, { record, compiled });
      await saveStateMachines();
      return { stateMachineArn: arn, creationDate: seconds(record.creationDate) };
    },

    async UpdateStateMachine(body) {
      const input = inputs.UpdateStateMachine.parse(body);
      const entry = machineEntry(input.stateMachineArn);
      if (input.definition === undefined && input.roleArn === undefined) {
        throw new SfnError("MissingRequiredParameter", "Either the definition or the roleArn must be given");
      }
      // Running executions keep the definition they started with, as on AWS.
      if (input.definition !== undefined) {
        entry.compiled = compile(input.definition);
        entry.record.definition = input.definition;
      }
      if (input.roleArn !== undefined) entry.record.roleArn = input.roleArn;
      entry.record.updateDate = Date.now();
      await saveStateMachines();
      return { updateDate: seconds(entry.record.updateDate) };
    },

    async DeleteStateMachine(body) {
      const input = inputs.DeleteStateMachine.parse(body);
      if (stateMachines.delete(input.stateMachineArn)) await saveStateMachines();
      return {};
    },

    async DescribeStateMachine(body) {
      const { record } = machineEntry(inputs.DescribeStateMachine.parse(body).stateMachineArn);
      return {
        stateMachineArn: record.stateMachineArn,
        name: record.name,
        status: "ACTIVE",
        definition: record.definition,
        roleArn: record.roleArn,
        type: record.type,
        creationDate: seconds(record.creationDate),
        loggingConfiguration: { level: "OFF", includeExecutionData: false },
        tracingConfiguration: { enabled: false },
      };
    },

    async ListStateMachines(body) {
      const input = inputs.ListStateMachines.parse(body);
      const all = [...stateMachines.values()]
        .map((entry) => entry.record)
        .sort((a, b) => a.name.localeCompare(b.name));
      const { page, nextToken } = pageOf(
        all,
        (record) => record.stateMachineArn,
        input.maxResults,
        input.nextToken,
      );
      return {
        stateMachines: page.map((record) => ({
          stateMachineArn: record.stateMachineArn,
          name: record.name,
          type: record.type,
          creationDate: seconds(record.creationDate),
        })),
        ...(nextToken === undefined ? {} : { nextToken }),
      };
    },

    async StartExecution(body) {
      const input = inputs.StartExecution.parse(body);
      const entry = machineEntry(input.stateMachineArn);
      const name = input.name ?? randomUUID();
      if (!isValidName(name)) throw new SfnError("InvalidName", `Invalid Name: '${name}'`);
      const executionInput = input.input ?? "{}";
      try {
        JSON.parse(executionInput);
      } catch {
        throw new SfnError(
          "InvalidExecutionInput",
          "Invalid State Machine Execution Input: the input is not JSON",
        );
      }
      const arn = executionArn(entry.record.name, name);
      const existing = executions.get(arn);
      if (existing !== undefined) {
        // A Standard workflow's StartExecution is idempotent while the execution runs with the
        // same input; a closed execution or another input is a conflict.
        if (existing.status === "RUNNING" && existing.input === executionInput) {
          return { executionArn: arn, startDate: seconds(existing.startDate) };
        }
        throw new SfnError("ExecutionAlreadyExists", `Execution Already Exists: '${arn}'`);
      }
      const compiled = compiledFor(entry);
      const record: ExecutionRecord = {
        executionArn: arn,
        stateMachineArn: entry.record.stateMachineArn,
        name,
        status: "RUNNING",
        startDate: Date.now(),
        input: executionInput,
        stats: { stateTransitions: 0, tasks: [] },
        events: [],
      };
      executions.set(arn, record);
      const run = new ExecutionRun({
        record,
        compiled,
        invokeFunction: options.invokeFunction,
        // Lambda's asynchronous invocation: queued, retried, waited for by settled() and close().
        queueInvocation: (functionArn, input) =>
          delivery.deliver(`Event invocation of ${functionArn}`, async () => {
            await options.invokeFunction(functionArn, input);
          }),
        waitScale,
        log,
        onChange: (changed) => store.saveSoon(changed),
        onEnd: async (ended) => {
          log(
            `sfn: ${ended.executionArn} ${ended.status}${ended.error === undefined ? "" : ` (${ended.error})`}`,
          );
          await store.saveNow(ended);
          deliverStatusChange(ended);
        },
      });
      runs.set(arn, run);
      run.start();
      void run.done.finally(() => runs.delete(arn));
      await store.saveNow(record);
      return { executionArn: arn, startDate: seconds(record.startDate) };
    },

    async DescribeExecution(body) {
      const record = execution(inputs.DescribeExecution.parse(body).executionArn);
      return {
        executionArn: record.executionArn,
        stateMachineArn: record.stateMachineArn,
        name: record.name,
        status: record.status,
        startDate: seconds(record.startDate),
        ...(record.stopDate === undefined ? {} : { stopDate: seconds(record.stopDate) }),
        input: record.input,
        inputDetails: { included: true },
        ...(record.output === undefined ? {} : { output: record.output, outputDetails: { included: true } }),
        ...(record.error === undefined ? {} : { error: record.error }),
        ...(record.cause === undefined ? {} : { cause: record.cause }),
      };
    },

    async StopExecution(body) {
      const input = inputs.StopExecution.parse(body);
      const record = execution(input.executionArn);
      const run = runs.get(record.executionArn);
      if (record.status === "RUNNING" && run !== undefined) await run.stop(input.error, input.cause);
      return { stopDate: seconds(record.stopDate ?? Date.now()) };
    },

    async ListExecutions(body) {
      const input = inputs.ListExecutions.parse(body);
      if (input.stateMachineArn === undefined) {
        throw new SfnError("ValidationException", "stateMachineArn is required");
      }
      machineEntry(input.stateMachineArn);
      const matching = newestFirst(
        [...executions.values()].filter(
          (record) =>
            record.stateMachineArn === input.stateMachineArn &&
            (input.statusFilter === undefined || record.status === input.statusFilter),
        ),
      );
      const { page, nextToken } = pageOf(
        matching,
        (record) => record.executionArn,
        input.maxResults,
        input.nextToken,
      );
      return {
        executions: page.map((record) => ({
          executionArn: record.executionArn,
          stateMachineArn: record.stateMachineArn,
          name: record.name,
          status: record.status,
          startDate: seconds(record.startDate),
          ...(record.stopDate === undefined ? {} : { stopDate: seconds(record.stopDate) }),
        })),
        ...(nextToken === undefined ? {} : { nextToken }),
      };
    },

    // The answers of callback tasks. Each checks the token, then its other fields, and hands the
    // answer over in the same synchronous step, so no timeout can come between.
    async SendTaskSuccess(body) {
      const input = inputs.SendTaskSuccess.parse(body);
      const task = waitingTask(input.taskToken);
      try {
        JSON.parse(input.output);
      } catch {
        throw new SfnError("InvalidOutput", "Invalid Output: the output is not JSON");
      }
      task.run.answerTask(task.nonce, { kind: "success", output: input.output });
      return {};
    },

    async SendTaskFailure(body) {
      const input = inputs.SendTaskFailure.parse(body);
      const task = waitingTask(input.taskToken);
      task.run.answerTask(task.nonce, { kind: "failure", error: input.error, cause: input.cause });
      return {};
    },

    async SendTaskHeartbeat(body) {
      const input = inputs.SendTaskHeartbeat.parse(body);
      const task = waitingTask(input.taskToken);
      task.run.answerTask(task.nonce, { kind: "heartbeat" });
      return {};
    },

    async GetExecutionHistory(body) {
      const input = inputs.GetExecutionHistory.parse(body);
      const record = execution(input.executionArn);
      const ordered = input.reverseOrder === true ? [...record.events].reverse() : [...record.events];
      const { page, nextToken } = pageOf(
        ordered,
        (event) => String(event.id),
        input.maxResults,
        input.nextToken,
      );
      const includeData = input.includeExecutionData ?? true;
      return {
        events: page.map((event) => renderHistoryEvent(event, includeData)),
        ...(nextToken === undefined ? {} : { nextToken }),
      };
    },
  };

  const server = createServer((request, response) => {
    void handleJsonRequest(request, response, actions);
  });
  const url = await listen(server, options.port ?? 0, "Step Functions");
  log(`sfn: listening on ${url} with ${stateMachines.size} state machines and ${executions.size} executions`);

  return {
    url,
    stats(arn) {
      const record = executions.get(arn);
      if (record === undefined) return undefined;
      return {
        status: record.status,
        durationMs: (record.stopDate ?? Date.now()) - record.startDate,
        stateTransitions: record.stats.stateTransitions,
        tasks: record.stats.tasks.map((task) => ({ ...task })),
      };
    },
    async whenEnded(arn) {
      const record = execution(arn);
      await runs.get(arn)?.done;
      return record;
    },
    settled: () => delivery.settled(),
    async close() {
      await closeServer(server);
      for (const run of runs.values()) run.interrupt();
      await Promise.allSettled([...runs.values()].map((run) => run.done));
      await store.flush();
      await delivery.close();
    },
  };
}
