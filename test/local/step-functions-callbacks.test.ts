import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CreateStateMachineCommand,
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  SendTaskFailureCommand,
  SendTaskHeartbeatCommand,
  SendTaskSuccessCommand,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from "@aws-sdk/client-sfn";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { localCredentials } from "../../local/endpoints.ts";
import { encodeTaskToken } from "../../local/step-functions/callbacks.ts";
import { type LocalStepFunctions, startStepFunctions } from "../../local/step-functions/server.ts";

const roleArn = "arn:aws:iam::000000000000:role/kiln-deploy";
const lambda = (name: string) => `arn:aws:lambda:us-east-1:000000000000:function:${name}`;
const waitForTaskToken = "arn:aws:states:::lambda:invoke.waitForTaskToken";

class ThrottledError extends Error {
  override readonly name = "Throttled";
}

/** A callback state that hands `$.service` and its token to `functionName`. */
function callbackState(functionName: string, fields: Record<string, unknown> = {}) {
  return {
    Type: "Task",
    Resource: waitForTaskToken,
    Parameters: {
      FunctionName: functionName,
      Payload: { "service.$": "$.service", "run.$": "$.run", "taskToken.$": "$$.Task.Token" },
    },
    ...fields,
  };
}

const definitions = {
  // The timeout is read from the state's input (after InputPath), which Parameters do not carry.
  waitForInstances: {
    StartAt: "Wait for instances",
    States: {
      "Wait for instances": callbackState("notify", {
        InputPath: "$.deploy",
        TimeoutSecondsPath: "$.timeoutSeconds",
        ResultPath: "$.instances",
        Catch: [
          { ErrorEquals: ["InstancesUnhealthy"], ResultPath: "$.error", Next: "Unhealthy" },
          // As on AWS, States.TaskFailed matches every task error but States.Timeout.
          { ErrorEquals: ["States.TaskFailed"], ResultPath: "$.error", Next: "Unhealthy" },
          { ErrorEquals: ["States.Timeout"], ResultPath: "$.error", Next: "Too slow" },
        ],
        Next: "Healthy",
      }),
      Healthy: { Type: "Pass", End: true },
      Unhealthy: { Type: "Pass", End: true },
      "Too slow": { Type: "Pass", End: true },
    },
  },
  retried: {
    StartAt: "Notify",
    States: {
      Notify: callbackState("flaky", {
        TimeoutSeconds: 60,
        Retry: [{ ErrorEquals: ["Throttled"], MaxAttempts: 2 }],
        End: true,
      }),
    },
  },
  heartbeat: {
    StartAt: "Notify",
    States: {
      Notify: callbackState("notify", {
        TimeoutSeconds: 60,
        HeartbeatSeconds: 1,
        Catch: [{ ErrorEquals: ["States.HeartbeatTimeout"], ResultPath: "$.error", Next: "Silent" }],
        End: true,
      }),
      Silent: { Type: "Pass", End: true },
    },
  },
  selfAnswering: {
    StartAt: "Notify",
    States: { Notify: callbackState("answering", { ResultPath: "$.answer", End: true }) },
  },
  broken: {
    StartAt: "Notify",
    States: { Notify: callbackState("broken", { End: true }) },
  },
  eachService: {
    StartAt: "Each",
    States: {
      Each: {
        Type: "Map",
        ItemsPath: "$.services",
        ItemSelector: { "service.$": "$$.Map.Item.Value", "run.$": "$.run" },
        ItemProcessor: {
          StartAt: "Notify",
          States: { Notify: callbackState("notify", { End: true }) },
        },
        End: true,
      },
    },
  },
  // A function that fails, invoked as an Event: its failure is Lambda's to retry, not the task's.
  queuedBroken: {
    StartAt: "Notify",
    States: {
      Notify: {
        ...callbackState("broken", { ResultPath: "$.answer", End: true }),
        Parameters: { ...callbackState("broken").Parameters, InvocationType: "Event" },
      },
    },
  },
  badTimeout: {
    StartAt: "Notify",
    States: { Notify: callbackState("notify", { TimeoutSecondsPath: "$.timeoutSeconds", End: true }) },
  },
};

interface Call {
  name: string;
  payload: { service: string; run: string; taskToken: string };
}

describe("local Step Functions: callback tasks (waitForTaskToken)", () => {
  let stateDir: string;
  let sfn: LocalStepFunctions;
  let client: SFNClient;
  const machines: Record<string, string> = {};
  const calls: Call[] = [];

  const invokeFunction = async (functionArn: string, input: unknown): Promise<unknown> => {
    const name = functionArn.split(":").at(-1) ?? "";
    const payload = input as Call["payload"];
    calls.push({ name, payload });
    switch (name) {
      case "notify":
        return { notified: payload.service };
      case "flaky":
        if (calls.filter((call) => call.payload.run === payload.run).length === 1) {
          throw new ThrottledError("slow down");
        }
        return { notified: payload.service };
      case "answering":
        // Answers before it returns, as a watcher whose condition already holds does.
        await client.send(
          new SendTaskSuccessCommand({
            taskToken: payload.taskToken,
            output: JSON.stringify({ early: true }),
          }),
        );
        return { notified: payload.service };
      case "broken":
        throw new Error("cannot notify");
      default:
        throw new Error(`no function ${functionArn}`);
    }
  };

  /** The calls of run `run`, once there are `count` of them (within 10 s). */
  async function callsOf(run: string, count: number): Promise<Call[]> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const matching = calls.filter((call) => call.payload.run === run);
      if (matching.length >= count) return matching;
      if (Date.now() > deadline) throw new Error(`run ${run} made ${matching.length} calls, not ${count}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  async function start(name: keyof typeof definitions, input: unknown): Promise<string> {
    const started = await client.send(
      new StartExecutionCommand({ stateMachineArn: machines[name], input: JSON.stringify(input) }),
    );
    return started.executionArn ?? "";
  }

  async function ended(executionArn: string) {
    await sfn.whenEnded(executionArn);
    return client.send(new DescribeExecutionCommand({ executionArn }));
  }

  async function history(executionArn: string): Promise<HistoryEvent[]> {
    const page = await client.send(new GetExecutionHistoryCommand({ executionArn, maxResults: 1000 }));
    return page.events ?? [];
  }

  const succeed = (taskToken: string, output: unknown) =>
    client.send(new SendTaskSuccessCommand({ taskToken, output: JSON.stringify(output) }));

  async function startServer() {
    sfn = await startStepFunctions({ stateDir, invokeFunction, waitScale: 0 });
    client?.destroy();
    client = new SFNClient({ endpoint: sfn.url, region: "us-east-1", credentials: localCredentials });
  }

  beforeAll(async () => {
    stateDir = await mkdtemp(join(tmpdir(), "kiln-sfn-callbacks-"));
    await startServer();
    for (const [name, definition] of Object.entries(definitions)) {
      const created = await client.send(
        new CreateStateMachineCommand({ name, definition: JSON.stringify(definition), roleArn }),
      );
      machines[name] = created.stateMachineArn ?? "";
    }
  });

  afterAll(async () => {
    client?.destroy();
    await sfn?.close();
    await rm(stateDir, { recursive: true, force: true });
  });

  describe("SendTaskSuccess", () => {
    let executionArn: string;
    let taskToken: string;

    beforeAll(async () => {
      executionArn = await start("waitForInstances", {
        deploy: { service: "web", run: "success", timeoutSeconds: 60 },
      });
      taskToken = (await callsOf("success", 1))[0]?.payload.taskToken ?? "";
      await succeed(taskToken, { healthy: 3 });
      await sfn.whenEnded(executionArn);
    });

    it("invokes the function with the Payload and the task's token", async () => {
      const [call] = await callsOf("success", 1);

      expect(call?.name).toBe("notify");
      expect(call?.payload).toEqual({ service: "web", run: "success", taskToken: expect.any(String) });
      expect(taskToken.length).toBeGreaterThan(40);
    });

    it("hands the output to the next state under ResultPath", async () => {
      const described = await client.send(new DescribeExecutionCommand({ executionArn }));

      expect(described.status).toBe("SUCCEEDED");
      expect(JSON.parse(described.output ?? "")).toEqual({
        deploy: { service: "web", run: "success", timeoutSeconds: 60 },
        instances: { healthy: 3 },
      });
    });

    it("records the callback task's history in order", async () => {
      const events = await history(executionArn);

      expect(events.map((event) => event.type)).toEqual([
        "ExecutionStarted",
        "TaskStateEntered",
        "TaskScheduled",
        "TaskStarted",
        "TaskSubmitted",
        "TaskSucceeded",
        "TaskStateExited",
        "PassStateEntered",
        "PassStateExited",
        "ExecutionSucceeded",
      ]);
      const byType = (type: string) => events.find((event) => event.type === type);
      expect(byType("TaskScheduled")?.taskScheduledEventDetails).toMatchObject({
        resourceType: "lambda",
        resource: "invoke.waitForTaskToken",
        region: "us-east-1",
        timeoutInSeconds: 60,
      });
      expect(JSON.parse(byType("TaskScheduled")?.taskScheduledEventDetails?.parameters ?? "")).toEqual({
        FunctionName: "notify",
        Payload: { service: "web", run: "success", taskToken },
      });
      expect(byType("TaskStarted")?.taskStartedEventDetails).toEqual({
        resourceType: "lambda",
        resource: "invoke.waitForTaskToken",
      });
      expect(JSON.parse(byType("TaskSubmitted")?.taskSubmittedEventDetails?.output ?? "")).toMatchObject({
        Payload: { notified: "web" },
        StatusCode: 200,
      });
      expect(byType("TaskSucceeded")?.taskSucceededEventDetails).toMatchObject({
        resource: "invoke.waitForTaskToken",
        output: JSON.stringify({ healthy: 3 }),
      });
    });

    it("times the function's invocation as the task", () => {
      const stats = sfn.stats(executionArn);

      expect(stats?.tasks).toEqual([
        {
          state: "Wait for instances",
          functionArn: lambda("notify"),
          startedAt: expect.any(Number),
          durationMs: expect.any(Number),
          outcome: "succeeded",
        },
      ]);
      expect(stats?.stateTransitions).toBe(2);
    });

    it("answers TaskTimedOut to a second answer for the same token", async () => {
      await expect(succeed(taskToken, {})).rejects.toMatchObject({ name: "TaskTimedOut" });
      await expect(client.send(new SendTaskHeartbeatCommand({ taskToken }))).rejects.toMatchObject({
        name: "TaskTimedOut",
      });
    });
  });

  it("fails the task with SendTaskFailure's error, which a Catch matches by name", async () => {
    const executionArn = await start("waitForInstances", {
      deploy: { service: "web", run: "failure", timeoutSeconds: 60 },
    });
    const [call] = await callsOf("failure", 1);
    await client.send(
      new SendTaskFailureCommand({
        taskToken: call?.payload.taskToken,
        error: "InstancesUnhealthy",
        cause: "2 of 3 instances failed their health check",
      }),
    );
    const described = await ended(executionArn);
    const events = await history(executionArn);

    expect(described.status).toBe("SUCCEEDED");
    expect(JSON.parse(described.output ?? "")).toMatchObject({
      error: { Error: "InstancesUnhealthy", Cause: "2 of 3 instances failed their health check" },
    });
    expect(events.find((event) => event.type === "TaskFailed")?.taskFailedEventDetails).toEqual({
      resourceType: "lambda",
      resource: "invoke.waitForTaskToken",
      error: "InstancesUnhealthy",
      cause: "2 of 3 instances failed their health check",
    });
    expect(events.map((event) => event.type).slice(2, 7)).toEqual([
      "TaskScheduled",
      "TaskStarted",
      "TaskSubmitted",
      "TaskFailed",
      "TaskStateExited",
    ]);
  });

  it("times out after TimeoutSecondsPath read from the state's input, and refuses a late answer", async () => {
    const executionArn = await start("waitForInstances", {
      deploy: { service: "web", run: "timeout", timeoutSeconds: 1 },
    });
    const [call] = await callsOf("timeout", 1);
    const described = await ended(executionArn);
    const events = await history(executionArn);
    const late = succeed(call?.payload.taskToken ?? "", { healthy: 3 });

    await expect(late).rejects.toMatchObject({ name: "TaskTimedOut", $metadata: { httpStatusCode: 400 } });
    expect(described.status).toBe("SUCCEEDED");
    expect(JSON.parse(described.output ?? "")).toMatchObject({ error: { Error: "States.Timeout" } });
    expect(events.map((event) => event.type).slice(1, 9)).toEqual([
      "TaskStateEntered",
      "TaskScheduled",
      "TaskStarted",
      "TaskSubmitted",
      "TaskTimedOut",
      "TaskStateExited",
      "PassStateEntered",
      "PassStateExited",
    ]);
    expect(events.find((event) => event.type === "TaskScheduled")?.taskScheduledEventDetails).toMatchObject({
      timeoutInSeconds: 1,
    });
    expect(events.find((event) => event.type === "TaskTimedOut")?.taskTimedOutEventDetails).toMatchObject({
      resource: "invoke.waitForTaskToken",
      error: "States.Timeout",
    });
    expect(events.find((event) => event.type === "PassStateEntered")?.stateEnteredEventDetails?.name).toBe(
      "Too slow",
    );
  });

  it("fails the execution with States.Runtime when TimeoutSecondsPath is not a positive integer", async () => {
    const executionArn = await start("badTimeout", {
      service: "web",
      run: "bad-timeout",
      timeoutSeconds: "soon",
    });
    const described = await ended(executionArn);

    expect(described).toMatchObject({ status: "FAILED", error: "States.Runtime" });
  });

  it("times out with States.HeartbeatTimeout when heartbeats stop", async () => {
    const executionArn = await start("heartbeat", { service: "web", run: "heartbeat" });
    const [call] = await callsOf("heartbeat", 1);
    const taskToken = call?.payload.taskToken ?? "";
    const beat = await client.send(new SendTaskHeartbeatCommand({ taskToken }));
    const described = await ended(executionArn);
    const events = await history(executionArn);

    expect(beat.$metadata.httpStatusCode).toBe(200);
    expect(JSON.parse(described.output ?? "")).toMatchObject({ error: { Error: "States.HeartbeatTimeout" } });
    expect(events.find((event) => event.type === "TaskScheduled")?.taskScheduledEventDetails).toMatchObject({
      timeoutInSeconds: 60,
      heartbeatInSeconds: 1,
    });
    expect(events.find((event) => event.type === "TaskTimedOut")?.taskTimedOutEventDetails?.error).toBe(
      "States.HeartbeatTimeout",
    );
    await expect(client.send(new SendTaskHeartbeatCommand({ taskToken }))).rejects.toMatchObject({
      name: "TaskTimedOut",
    });
  });

  it("retries the invocation's error with a new token, and the old one no longer answers", async () => {
    const executionArn = await start("retried", { service: "web", run: "retried" });
    const [first, second] = await callsOf("retried", 2);
    const stale = succeed(first?.payload.taskToken ?? "", { attempt: 1 });
    await expect(stale).rejects.toMatchObject({ name: "TaskTimedOut" });
    await succeed(second?.payload.taskToken ?? "", { attempt: 2 });
    const described = await ended(executionArn);
    const events = await history(executionArn);

    expect(first?.payload.taskToken).not.toBe(second?.payload.taskToken);
    expect(JSON.parse(described.output ?? "")).toEqual({ attempt: 2 });
    expect(events.map((event) => event.type)).toEqual([
      "ExecutionStarted",
      "TaskStateEntered",
      "TaskScheduled",
      "TaskStarted",
      "TaskFailed",
      "TaskScheduled",
      "TaskStarted",
      "TaskSubmitted",
      "TaskSucceeded",
      "TaskStateExited",
      "ExecutionSucceeded",
    ]);
    expect(events.find((event) => event.type === "TaskFailed")?.taskFailedEventDetails?.error).toBe(
      "Throttled",
    );
    expect(sfn.stats(executionArn)?.tasks.map((task) => task.outcome)).toEqual(["failed", "succeeded"]);
  });

  it("fails the task with the function's error when the invocation itself fails", async () => {
    const executionArn = await start("broken", { service: "web", run: "broken" });
    const described = await ended(executionArn);
    const [call] = await callsOf("broken", 1);
    const types = (await history(executionArn)).map((event) => event.type);

    expect(described).toMatchObject({ status: "FAILED", error: "Error" });
    expect(JSON.parse(described.cause ?? "")).toMatchObject({ errorMessage: "cannot notify" });
    expect(types.slice(-3)).toEqual(["TaskStarted", "TaskFailed", "ExecutionFailed"]);
    await expect(succeed(call?.payload.taskToken ?? "", {})).rejects.toMatchObject({ name: "TaskTimedOut" });
  });

  it("queues an Event invocation, submits the task with a 202 and waits for the token, whatever the function does", async () => {
    const executionArn = await start("queuedBroken", { service: "web", run: "queued" });
    // Lambda's three attempts, each failing.
    const [call] = await callsOf("queued", 3);
    const submitted = (await history(executionArn)).find((event) => event.type === "TaskSubmitted");
    expect(JSON.parse(submitted?.taskSubmittedEventDetails?.output ?? "")).toMatchObject({
      StatusCode: 202,
      Payload: "",
    });

    await succeed(call?.payload.taskToken ?? "", { done: true });
    const described = await ended(executionArn);

    expect(described.status).toBe("SUCCEEDED");
    expect(JSON.parse(described.output ?? "")).toMatchObject({ answer: { done: true } });
  });

  it("applies an answer sent while the function still runs once it has returned", async () => {
    const executionArn = await start("selfAnswering", { service: "web", run: "self" });
    const described = await ended(executionArn);
    const types = (await history(executionArn)).map((event) => event.type);

    expect(JSON.parse(described.output ?? "")).toMatchObject({ answer: { early: true } });
    expect(types.slice(2, 7)).toEqual([
      "TaskScheduled",
      "TaskStarted",
      "TaskSubmitted",
      "TaskSucceeded",
      "TaskStateExited",
    ]);
  });

  it("gives each Map iteration its own token", async () => {
    const executionArn = await start("eachService", { services: ["web", "worker"], run: "map" });
    const both = await callsOf("map", 2);
    const tokens = new Set(both.map((call) => call.payload.taskToken));
    for (const call of both) await succeed(call.payload.taskToken, { ready: call.payload.service });
    const described = await ended(executionArn);

    expect(tokens.size).toBe(2);
    expect(JSON.parse(described.output ?? "")).toEqual([{ ready: "web" }, { ready: "worker" }]);
  });

  describe("answers it refuses", () => {
    let executionArn: string;
    let taskToken: string;

    beforeAll(async () => {
      executionArn = await start("waitForInstances", {
        deploy: { service: "web", run: "refused", timeoutSeconds: 60 },
      });
      taskToken = (await callsOf("refused", 1))[0]?.payload.taskToken ?? "";
    });

    it("answers InvalidToken for a string it never issued", async () => {
      await expect(succeed("not-a-token", {})).rejects.toMatchObject({ name: "InvalidToken" });
      await expect(
        client.send(new SendTaskFailureCommand({ taskToken: `${taskToken}!` })),
      ).rejects.toMatchObject({ name: "InvalidToken" });
    });

    it("answers TaskDoesNotExist for a well-formed token no task was given", async () => {
      const forged = encodeTaskToken(executionArn, "a-nonce-nobody-was-given");
      const elsewhere = encodeTaskToken(`${executionArn}-nope`, "a-nonce-nobody-was-given");

      await expect(succeed(forged, {})).rejects.toMatchObject({ name: "TaskDoesNotExist" });
      await expect(succeed(elsewhere, {})).rejects.toMatchObject({ name: "TaskDoesNotExist" });
    });

    it("answers InvalidOutput for output that is not JSON, and the task keeps waiting", async () => {
      const invalid = client.send(new SendTaskSuccessCommand({ taskToken, output: "{healthy: 3" }));
      await expect(invalid).rejects.toMatchObject({ name: "InvalidOutput" });

      await succeed(taskToken, { healthy: 1 });
      const described = await ended(executionArn);
      expect(JSON.parse(described.output ?? "")).toMatchObject({ instances: { healthy: 1 } });
    });

    it("validates the lengths AWS limits", async () => {
      const longError = client.send(new SendTaskFailureCommand({ taskToken, error: "E".repeat(257) }));

      await expect(longError).rejects.toMatchObject({ name: "ValidationException" });
    });
  });

  it("invalidates the tokens of an execution stopped while its task waits", async () => {
    const executionArn = await start("waitForInstances", {
      deploy: { service: "web", run: "stopped", timeoutSeconds: 3600 },
    });
    const [call] = await callsOf("stopped", 1);
    await client.send(new StopExecutionCommand({ executionArn, error: "DeploymentCancelled" }));
    const described = await ended(executionArn);
    const types = (await history(executionArn)).map((event) => event.type);

    expect(described).toMatchObject({ status: "ABORTED", error: "DeploymentCancelled" });
    expect(types.slice(-2)).toEqual(["TaskSubmitted", "ExecutionAborted"]);
    await expect(succeed(call?.payload.taskToken ?? "", {})).rejects.toMatchObject({ name: "TaskTimedOut" });
  });

  it("answers TaskTimedOut for a task that waited when the local cloud stopped", async () => {
    const executionArn = await start("waitForInstances", {
      deploy: { service: "web", run: "restart", timeoutSeconds: 3600 },
    });
    const [call] = await callsOf("restart", 1);
    await sfn.close();
    await startServer();
    const described = await client.send(new DescribeExecutionCommand({ executionArn }));

    expect(described).toMatchObject({ status: "ABORTED", error: "LocalCloudStopped" });
    await expect(succeed(call?.payload.taskToken ?? "", {})).rejects.toMatchObject({ name: "TaskTimedOut" });
  });
});
