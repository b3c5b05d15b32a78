import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CreateStateMachineCommand,
  DescribeExecutionCommand,
  DescribeStateMachineCommand,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  ListExecutionsCommand,
  ListStateMachinesCommand,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
  UpdateStateMachineCommand,
} from "@aws-sdk/client-sfn";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { localCredentials } from "../../local/endpoints.ts";
import {
  type ExecutionStatusChangeEvent,
  type LocalStepFunctions,
  startStepFunctions,
} from "../../local/step-functions/server.ts";

const roleArn = "arn:aws:iam::000000000000:role/kiln-deploy";
const lambda = (name: string) => `arn:aws:lambda:us-east-1:000000000000:function:${name}`;

class ArtifactRejectedError extends Error {
  override readonly name = "ArtifactRejectedError";
}

/** A function that returns only when the test opens its gate. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { open, opened };
}

const definitions = {
  happy: {
    StartAt: "Double",
    States: {
      Double: { Type: "Task", Resource: lambda("double"), Next: "Big?" },
      "Big?": {
        Type: "Choice",
        Choices: [{ Variable: "$.value", NumericGreaterThan: 5, Next: "Pause" }],
        Default: "Small",
      },
      Small: { Type: "Fail", Error: "TooSmall" },
      Pause: { Type: "Wait", Seconds: 30, Next: "EachItem" },
      EachItem: {
        Type: "Map",
        ItemsPath: "$.items",
        ResultPath: "$.doubled",
        Iterator: {
          StartAt: "DoubleItem",
          States: { DoubleItem: { Type: "Task", Resource: lambda("double"), End: true } },
        },
        Next: "Both",
      },
      Both: {
        Type: "Parallel",
        ResultPath: "$.both",
        Branches: [
          { StartAt: "Left", States: { Left: { Type: "Task", Resource: lambda("echo"), End: true } } },
          { StartAt: "Right", States: { Right: { Type: "Pass", Result: "right", End: true } } },
        ],
        Next: "Invoke",
      },
      Invoke: {
        Type: "Task",
        Resource: "arn:aws:states:::lambda:invoke",
        Parameters: { FunctionName: "echo", "Payload.$": "$.value" },
        ResultSelector: { "echoed.$": "$.Payload" },
        ResultPath: "$.invoked",
        Next: "Done",
      },
      Done: { Type: "Succeed" },
    },
  },
  rejecting: {
    StartAt: "Inspect",
    States: {
      Inspect: {
        Type: "Task",
        Resource: lambda("reject"),
        Retry: [{ ErrorEquals: ["Throttled"], MaxAttempts: 2 }],
        Catch: [{ ErrorEquals: ["ArtifactRejectedError"], ResultPath: "$.error", Next: "Record" }],
        End: true,
      },
      Record: { Type: "Pass", Next: "Rejected" },
      Rejected: { Type: "Fail", Error: "Rejected", Cause: "the artifact was rejected" },
    },
  },
  uncaught: {
    StartAt: "Inspect",
    States: { Inspect: { Type: "Task", Resource: lambda("reject"), End: true } },
  },
  gated: {
    StartAt: "Hold",
    States: { Hold: { Type: "Task", Resource: lambda("hold"), End: true } },
  },
  queued: {
    StartAt: "Queue",
    States: {
      Queue: {
        Type: "Task",
        Resource: "arn:aws:states:::lambda:invoke",
        Parameters: { FunctionName: "hold", "InvocationType.$": "$.type", Payload: {} },
        ResultPath: "$.queued",
        End: true,
      },
    },
  },
  slowTask: {
    StartAt: "Hold",
    States: { Hold: { Type: "Task", Resource: lambda("hold"), TimeoutSeconds: 1, End: true } },
  },
  slowMachine: {
    TimeoutSeconds: 1,
    StartAt: "Hold",
    States: { Hold: { Type: "Task", Resource: lambda("hold"), End: true } },
  },
};

describe("local Step Functions", () => {
  let stateDir: string;
  let sfn: LocalStepFunctions;
  let client: SFNClient;
  let held = gate();
  const statusChanges: ExecutionStatusChangeEvent[] = [];
  const machines: Record<string, string> = {};
  let invocations: string[] = [];

  const invokeFunction = async (functionArn: string, input: unknown): Promise<unknown> => {
    const name = functionArn.split(":").at(-1);
    invocations.push(name ?? "");
    switch (name) {
      case "double": {
        const value = typeof input === "number" ? input : (input as { value: number }).value;
        return typeof input === "number" ? value * 2 : { ...(input as object), value: value * 2 };
      }
      case "echo":
        return input;
      case "reject":
        throw new ArtifactRejectedError("no manifest.json in the artifact");
      case "hold":
        await held.opened;
        return { held: true };
      default:
        throw new Error(`no function ${functionArn}`);
    }
  };

  async function start(name: keyof typeof definitions, input: unknown, executionName?: string) {
    const started = await client.send(
      new StartExecutionCommand({
        stateMachineArn: machines[name],
        input: JSON.stringify(input),
        name: executionName,
      }),
    );
    return started.executionArn ?? "";
  }

  async function history(executionArn: string): Promise<HistoryEvent[]> {
    const events: HistoryEvent[] = [];
    let nextToken: string | undefined;
    do {
      const page = await client.send(
        new GetExecutionHistoryCommand({ executionArn, nextToken, maxResults: 1000 }),
      );
      events.push(...(page.events ?? []));
      nextToken = page.nextToken;
    } while (nextToken !== undefined);
    return events;
  }

  async function startServer() {
    sfn = await startStepFunctions({
      stateDir,
      invokeFunction,
      waitScale: 0,
      onExecutionStatusChange: async (event) => {
        statusChanges.push(event);
      },
    });
    client?.destroy();
    client = new SFNClient({ endpoint: sfn.url, region: "us-east-1", credentials: localCredentials });
  }

  beforeAll(async () => {
    stateDir = await mkdtemp(join(tmpdir(), "kiln-sfn-"));
    await startServer();
    for (const [name, definition] of Object.entries(definitions)) {
      const created = await client.send(
        new CreateStateMachineCommand({
          name: `kiln-${name}`,
          definition: JSON.stringify(definition),
          roleArn,
        }),
      );
      machines[name] = created.stateMachineArn ?? "";
    }
  });

  afterAll(async () => {
    held.open();
    client?.destroy();
    await sfn?.close();
    await rm(stateDir, { recursive: true, force: true });
  });

  describe("state machines", () => {
    it("describes a created state machine with its definition", async () => {
      const described = await client.send(
        new DescribeStateMachineCommand({ stateMachineArn: machines.happy }),
      );

      expect(described).toMatchObject({
        stateMachineArn: "arn:aws:states:us-east-1:000000000000:stateMachine:kiln-happy",
        name: "kiln-happy",
        status: "ACTIVE",
        type: "STANDARD",
        roleArn,
      });
      expect(JSON.parse(described.definition ?? "")).toEqual(definitions.happy);
      expect(described.creationDate).toBeInstanceOf(Date);
    });

    it("answers an identical create with the same machine and rejects a different one", async () => {
      const same = await client.send(
        new CreateStateMachineCommand({
          name: "kiln-happy",
          definition: JSON.stringify(definitions.happy),
          roleArn,
        }),
      );
      const different = client.send(
        new CreateStateMachineCommand({
          name: "kiln-happy",
          definition: JSON.stringify(definitions.gated),
          roleArn,
        }),
      );

      expect(same.stateMachineArn).toBe(machines.happy);
      await expect(different).rejects.toMatchObject({ name: "StateMachineAlreadyExists" });
    });

    it("rejects definitions that are invalid or call something other than Lambda", async () => {
      const invalid = client.send(
        new CreateStateMachineCommand({
          name: "broken",
          definition: JSON.stringify({ StartAt: "Nowhere", States: {} }),
          roleArn,
        }),
      );
      const notLambda = client.send(
        new CreateStateMachineCommand({
          name: "sqs",
          definition: JSON.stringify({
            StartAt: "Send",
            States: { Send: { Type: "Task", Resource: "arn:aws:states:::sqs:sendMessage", End: true } },
          }),
          roleArn,
        }),
      );

      await expect(invalid).rejects.toMatchObject({ name: "InvalidDefinition" });
      await expect(notLambda).rejects.toMatchObject({
        name: "InvalidDefinition",
        message: expect.stringMatching(/Lambda/),
      });
    });

    it("lists state machines by name, in pages", async () => {
      const first = await client.send(new ListStateMachinesCommand({ maxResults: 4 }));
      const second = await client.send(
        new ListStateMachinesCommand({ maxResults: 4, nextToken: first.nextToken }),
      );

      const names = [...(first.stateMachines ?? []), ...(second.stateMachines ?? [])].map(
        (machine) => machine.name,
      );
      expect(names).toEqual(
        Object.keys(definitions)
          .map((name) => `kiln-${name}`)
          .sort(),
      );
      expect(second.nextToken).toBeUndefined();
    });

    it("updates a definition for later executions", async () => {
      const created = await client.send(
        new CreateStateMachineCommand({
          name: "kiln-updatable",
          definition: JSON.stringify({ StartAt: "P", States: { P: { Type: "Pass", Result: 1, End: true } } }),
          roleArn,
        }),
      );
      await client.send(
        new UpdateStateMachineCommand({
          stateMachineArn: created.stateMachineArn,
          definition: JSON.stringify({ StartAt: "P", States: { P: { Type: "Pass", Result: 2, End: true } } }),
        }),
      );
      const { executionArn } = await client.send(
        new StartExecutionCommand({ stateMachineArn: created.stateMachineArn }),
      );
      await sfn.whenEnded(executionArn ?? "");
      const described = await client.send(new DescribeExecutionCommand({ executionArn }));

      expect(described.output).toBe("2");
    });
  });

  describe("a successful execution", () => {
    let executionArn: string;
    let events: HistoryEvent[];

    beforeAll(async () => {
      executionArn = await start("happy", { value: 4, items: [1, 2, 3] }, "happy-1");
      await sfn.whenEnded(executionArn);
      events = await history(executionArn);
    });

    it("reads back every field of DescribeExecution", async () => {
      const described = await client.send(new DescribeExecutionCommand({ executionArn }));

      expect(described).toMatchObject({
        executionArn: "arn:aws:states:us-east-1:000000000000:execution:kiln-happy:happy-1",
        stateMachineArn: machines.happy,
        name: "happy-1",
        status: "SUCCEEDED",
        input: JSON.stringify({ value: 4, items: [1, 2, 3] }),
        inputDetails: { included: true },
        outputDetails: { included: true },
      });
      expect(JSON.parse(described.output ?? "")).toEqual({
        value: 8,
        items: [1, 2, 3],
        doubled: [2, 4, 6],
        both: [{ value: 8, items: [1, 2, 3], doubled: [2, 4, 6] }, "right"],
        invoked: { echoed: 8 },
      });
      expect(described.startDate).toBeInstanceOf(Date);
      expect(described.stopDate?.getTime()).toBeGreaterThanOrEqual(
        described.startDate?.getTime() ?? Infinity,
      );
    });

    it("records the history AWS records, in order", () => {
      const types = events.map((event) => event.type);
      // Map iterations and Parallel branches run concurrently: their events interleave.
      const iterations = types.slice(12, 12 + 3 * 7);
      const branches = types.slice(37, 37 + 7);

      expect(types).toEqual([
        "ExecutionStarted",
        "TaskStateEntered",
        "LambdaFunctionScheduled",
        "LambdaFunctionStarted",
        "LambdaFunctionSucceeded",
        "TaskStateExited",
        "ChoiceStateEntered",
        "ChoiceStateExited",
        "WaitStateEntered",
        "WaitStateExited",
        "MapStateEntered",
        "MapStateStarted",
        ...iterations,
        "MapStateSucceeded",
        "MapStateExited",
        "ParallelStateEntered",
        "ParallelStateStarted",
        ...branches,
        "ParallelStateSucceeded",
        "ParallelStateExited",
        "TaskStateEntered",
        "TaskScheduled",
        "TaskStarted",
        "TaskSucceeded",
        "TaskStateExited",
        "SucceedStateEntered",
        "SucceedStateExited",
        "ExecutionSucceeded",
      ]);
      // Each iteration: started, task entered, scheduled, started, succeeded, task exited, succeeded.
      expect(iterations.filter((type) => type === "MapIterationStarted")).toHaveLength(3);
      expect(iterations.filter((type) => type === "MapIterationSucceeded")).toHaveLength(3);
      expect(iterations.filter((type) => type === "LambdaFunctionSucceeded")).toHaveLength(3);
      expect(branches.sort()).toEqual(
        [
          "LambdaFunctionScheduled",
          "LambdaFunctionStarted",
          "LambdaFunctionSucceeded",
          "PassStateEntered",
          "PassStateExited",
          "TaskStateEntered",
          "TaskStateExited",
        ].sort(),
      );
      expect(events.map((event) => event.id)).toEqual(events.map((_, index) => index + 1));
      expect(events.every((event) => event.previousEventId === (event.id ?? 0) - 1)).toBe(true);
      expect(events.every((event) => event.timestamp instanceof Date)).toBe(true);
    });

    it("fills each event's details", () => {
      const byType = (type: string) => events.find((event) => event.type === type);

      expect(byType("ExecutionStarted")?.executionStartedEventDetails?.input).toBe(
        JSON.stringify({ value: 4, items: [1, 2, 3] }),
      );
      expect(byType("TaskStateEntered")?.stateEnteredEventDetails).toMatchObject({ name: "Double" });
      expect(byType("LambdaFunctionScheduled")?.lambdaFunctionScheduledEventDetails).toMatchObject({
        resource: lambda("double"),
        input: JSON.stringify({ value: 4, items: [1, 2, 3] }),
      });
      expect(
        JSON.parse(byType("LambdaFunctionSucceeded")?.lambdaFunctionSucceededEventDetails?.output ?? ""),
      ).toEqual({
        value: 8,
        items: [1, 2, 3],
      });
      expect(byType("MapStateStarted")?.mapStateStartedEventDetails?.length).toBe(3);
      expect(
        events
          .filter((event) => event.type === "MapIterationStarted")
          .map((event) => event.mapIterationStartedEventDetails?.index)
          .sort(),
      ).toEqual([0, 1, 2]);
      expect(byType("TaskScheduled")?.taskScheduledEventDetails).toMatchObject({
        resourceType: "lambda",
        resource: "invoke",
        region: "us-east-1",
        parameters: JSON.stringify({ FunctionName: "echo", Payload: 8 }),
      });
      expect(
        JSON.parse(byType("ExecutionSucceeded")?.executionSucceededEventDetails?.output ?? ""),
      ).toMatchObject({
        invoked: { echoed: 8 },
      });
    });

    it("pages the history in reverse, without data when asked", async () => {
      const first = await client.send(
        new GetExecutionHistoryCommand({
          executionArn,
          reverseOrder: true,
          maxResults: 3,
          includeExecutionData: false,
        }),
      );
      const second = await client.send(
        new GetExecutionHistoryCommand({
          executionArn,
          reverseOrder: true,
          maxResults: 3,
          nextToken: first.nextToken,
        }),
      );

      expect(first.events?.map((event) => event.id)).toEqual([
        events.length,
        events.length - 1,
        events.length - 2,
      ]);
      expect(first.events?.[0]?.executionSucceededEventDetails).toEqual({});
      expect(second.events?.map((event) => event.id)).toEqual([
        events.length - 3,
        events.length - 4,
        events.length - 5,
      ]);
    });

    it("counts state transitions and times each task", () => {
      const stats = sfn.stats(executionArn);

      // Double, Big?, Pause, EachItem, 3 × DoubleItem, Both, Left, Right, Invoke, Done.
      expect(stats?.stateTransitions).toBe(12);
      expect(stats?.status).toBe("SUCCEEDED");
      expect(stats?.tasks.map((task) => task.state).sort()).toEqual(
        ["Double", "DoubleItem", "DoubleItem", "DoubleItem", "Invoke", "Left"].sort(),
      );
      expect(stats?.tasks.every((task) => task.outcome === "succeeded" && task.durationMs >= 0)).toBe(true);
      expect(stats?.tasks.find((task) => task.state === "Invoke")?.functionArn).toBe(lambda("echo"));
    });

    it("delivers a SUCCEEDED status-change event", async () => {
      await sfn.settled();
      const event = statusChanges.find((change) => change.detail.executionArn === executionArn);

      expect(event).toMatchObject({
        version: "0",
        source: "aws.states",
        "detail-type": "Step Functions Execution Status Change",
        account: "000000000000",
        region: "us-east-1",
        resources: [executionArn],
        detail: {
          stateMachineArn: machines.happy,
          name: "happy-1",
          status: "SUCCEEDED",
          error: null,
          cause: null,
        },
      });
      expect(typeof event?.detail.startDate).toBe("number");
      expect(JSON.parse(event?.detail.output ?? "")).toMatchObject({ value: 8 });
    });
  });

  describe("Event invocations", () => {
    it("queues the function, goes on at once with a 202, and is settled only when the function has run", async () => {
      held = gate();
      invocations = [];
      const executionArn = await start("queued", { type: "Event" });
      await sfn.whenEnded(executionArn);
      const described = await client.send(new DescribeExecutionCommand({ executionArn }));
      expect(described.status).toBe("SUCCEEDED");
      expect(JSON.parse(described.output ?? "").queued).toMatchObject({ StatusCode: 202, Payload: "" });

      let settled = false;
      const settling = sfn.settled().then(() => {
        settled = true;
      });
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(invocations).toEqual(["hold"]);
      expect(settled).toBe(false);
      held.open();
      await settling;
      expect(settled).toBe(true);
    });

    it("fails with States.Runtime on an invocation type it does not run", async () => {
      invocations = [];
      const executionArn = await start("queued", { type: "DryRun" });
      await sfn.whenEnded(executionArn);
      const described = await client.send(new DescribeExecutionCommand({ executionArn }));

      expect(described).toMatchObject({ status: "FAILED", error: "States.Runtime" });
      expect(described.cause).toContain('InvocationType is "DryRun"');
      expect(invocations).toEqual([]);
    });
  });

  describe("failures", () => {
    it("catches a function's error by its name and fails at the Fail state", async () => {
      invocations = [];
      const executionArn = await start("rejecting", { artifact: "web/1.0.tgz" });
      await sfn.whenEnded(executionArn);
      const described = await client.send(new DescribeExecutionCommand({ executionArn }));
      const events = await history(executionArn);

      expect(described).toMatchObject({
        status: "FAILED",
        error: "Rejected",
        cause: "the artifact was rejected",
      });
      expect(invocations).toEqual(["reject"]);
      const failed = events.find(
        (event) => event.type === "LambdaFunctionFailed",
      )?.lambdaFunctionFailedEventDetails;
      expect(failed?.error).toBe("ArtifactRejectedError");
      expect(JSON.parse(failed?.cause ?? "")).toMatchObject({
        errorType: "ArtifactRejectedError",
        errorMessage: "no manifest.json in the artifact",
      });
      const recorded = events.find((event) => event.type === "PassStateEntered")?.stateEnteredEventDetails;
      expect(JSON.parse(recorded?.input ?? "")).toMatchObject({ error: { Error: "ArtifactRejectedError" } });
      expect(events.map((event) => event.type).slice(-3)).toEqual([
        "PassStateExited",
        "FailStateEntered",
        "ExecutionFailed",
      ]);
    });

    it("fails the execution with the function's error name when nothing catches it", async () => {
      const executionArn = await start("uncaught", {});
      await sfn.whenEnded(executionArn);
      const described = await client.send(new DescribeExecutionCommand({ executionArn }));
      const last = (await history(executionArn)).at(-1);

      expect(described.status).toBe("FAILED");
      expect(described.error).toBe("ArtifactRejectedError");
      expect(last?.executionFailedEventDetails?.error).toBe("ArtifactRejectedError");
      expect(sfn.stats(executionArn)?.tasks[0]?.outcome).toBe("failed");
    });

    it("times a Task out with States.Timeout", async () => {
      held = gate();
      const executionArn = await start("slowTask", {});
      await sfn.whenEnded(executionArn);
      held.open();
      const described = await client.send(new DescribeExecutionCommand({ executionArn }));
      const types = (await history(executionArn)).map((event) => event.type);

      expect(described).toMatchObject({ status: "FAILED", error: "States.Timeout" });
      expect(types.slice(-2)).toEqual(["LambdaFunctionTimedOut", "ExecutionFailed"]);
    });

    it("times the execution out after the state machine's TimeoutSeconds", async () => {
      held = gate();
      const executionArn = await start("slowMachine", {});
      await sfn.whenEnded(executionArn);
      held.open();
      await sfn.settled();
      const described = await client.send(new DescribeExecutionCommand({ executionArn }));
      const last = (await history(executionArn)).at(-1);

      expect(described).toMatchObject({ status: "TIMED_OUT", error: "States.Timeout" });
      expect(last?.type).toBe("ExecutionTimedOut");
      expect(statusChanges.find((change) => change.detail.executionArn === executionArn)?.detail.status).toBe(
        "TIMED_OUT",
      );
    });
  });

  describe("starting and stopping", () => {
    it("returns the same execution for the same name and input while it runs, and refuses otherwise", async () => {
      held = gate();
      const first = await start("gated", { deployment: "d-1" }, "d-1");
      const again = await start("gated", { deployment: "d-1" }, "d-1");
      const conflicting = start("gated", { deployment: "d-2" }, "d-1");
      await expect(conflicting).rejects.toMatchObject({ name: "ExecutionAlreadyExists" });
      held.open();
      await sfn.whenEnded(first);
      const afterEnd = start("gated", { deployment: "d-1" }, "d-1");

      expect(again).toBe(first);
      await expect(afterEnd).rejects.toMatchObject({ name: "ExecutionAlreadyExists" });
    });

    it("aborts on StopExecution with the error and cause given, and announces it", async () => {
      held = gate();
      const executionArn = await start("gated", {}, "to-stop");
      const stopped = await client.send(
        new StopExecutionCommand({ executionArn, error: "DeploymentCancelled", cause: "cancelled by alice" }),
      );
      held.open();
      await sfn.whenEnded(executionArn);
      await sfn.settled();
      const described = await client.send(new DescribeExecutionCommand({ executionArn }));
      const events = await history(executionArn);

      expect(stopped.stopDate).toBeInstanceOf(Date);
      expect(described).toMatchObject({
        status: "ABORTED",
        error: "DeploymentCancelled",
        cause: "cancelled by alice",
      });
      expect(events.at(-1)).toMatchObject({
        type: "ExecutionAborted",
        executionAbortedEventDetails: { error: "DeploymentCancelled", cause: "cancelled by alice" },
      });
      expect(events.some((event) => event.type === "LambdaFunctionSucceeded")).toBe(false);
      expect(
        statusChanges.find((change) => change.detail.executionArn === executionArn)?.detail,
      ).toMatchObject({
        status: "ABORTED",
        error: "DeploymentCancelled",
        cause: "cancelled by alice",
      });
    });

    it("lists executions newest first, filtered by status, in pages", async () => {
      const names = ["list-1", "list-2", "list-3"];
      for (const name of names) {
        await sfn.whenEnded(await start("uncaught", {}, name));
      }
      const first = await client.send(
        new ListExecutionsCommand({
          stateMachineArn: machines.uncaught,
          statusFilter: "FAILED",
          maxResults: 2,
        }),
      );
      const second = await client.send(
        new ListExecutionsCommand({
          stateMachineArn: machines.uncaught,
          statusFilter: "FAILED",
          maxResults: 2,
          nextToken: first.nextToken,
        }),
      );
      const succeeded = await client.send(
        new ListExecutionsCommand({ stateMachineArn: machines.uncaught, statusFilter: "SUCCEEDED" }),
      );

      const listed = [...(first.executions ?? []), ...(second.executions ?? [])];
      expect(listed.slice(0, 3).map((execution) => execution.name)).toEqual(["list-3", "list-2", "list-1"]);
      expect(
        listed.every((execution) => execution.status === "FAILED" && execution.stopDate instanceof Date),
      ).toBe(true);
      expect(first.executions).toHaveLength(2);
      expect(succeeded.executions).toEqual([]);
    });

    it("names what is missing", async () => {
      const missing = client.send(
        new DescribeExecutionCommand({
          executionArn: "arn:aws:states:us-east-1:000000000000:execution:kiln-happy:nope",
        }),
      );
      const noMachine = client.send(
        new StartExecutionCommand({
          stateMachineArn: "arn:aws:states:us-east-1:000000000000:stateMachine:nope",
        }),
      );
      const badInput = client.send(
        new StartExecutionCommand({ stateMachineArn: machines.happy, input: "{not json" }),
      );

      await expect(missing).rejects.toMatchObject({ name: "ExecutionDoesNotExist" });
      await expect(noMachine).rejects.toMatchObject({ name: "StateMachineDoesNotExist" });
      await expect(badInput).rejects.toMatchObject({ name: "InvalidExecutionInput" });
    });
  });

  describe("a restart", () => {
    it("keeps finished executions and aborts those it interrupted, announcing them", async () => {
      held = gate();
      const interrupted = await start("gated", {}, "interrupted");
      const finished = await start("uncaught", {}, "finished-before-restart");
      await sfn.whenEnded(finished);

      await sfn.close();
      held.open();
      await startServer();
      await sfn.settled();
      const aborted = await client.send(new DescribeExecutionCommand({ executionArn: interrupted }));
      const kept = await client.send(new DescribeExecutionCommand({ executionArn: finished }));
      const events = await history(interrupted);

      expect(aborted).toMatchObject({ status: "ABORTED", error: "LocalCloudStopped" });
      expect(events.at(-1)?.type).toBe("ExecutionAborted");
      expect(kept.status).toBe("FAILED");
      expect(
        statusChanges
          .filter((change) => change.detail.executionArn === interrupted)
          .map((c) => c.detail.status),
      ).toEqual(["ABORTED"]);
    });
  });
});
