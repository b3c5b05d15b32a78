import aslValidator from "asl-validator";
import { describe, expect, it } from "vitest";
import {
  buildDeployWorkflow,
  deployTaskFunctions,
  invokeLambda,
  invokeWithCallback,
} from "../../workflows/deploy-workflow.ts";
import { kilnFunctions } from "../../workflows/functions.ts";

const arn = (name: string) => `arn:aws:lambda:us-east-1:123456789012:function:kiln-${name}`;
const definition = buildDeployWorkflow(arn);
const states = Object.entries(definition.States);

function targets(state: Record<string, unknown>): string[] {
  const next = typeof state.Next === "string" ? [state.Next] : [];
  const fallback = typeof state.Default === "string" ? [state.Default] : [];
  const choices = Array.isArray(state.Choices)
    ? state.Choices.map((choice: { Next: string }) => choice.Next)
    : [];
  const catches = Array.isArray(state.Catch)
    ? state.Catch.map((catcher: { Next: string }) => catcher.Next)
    : [];
  return [...next, ...fallback, ...choices, ...catches];
}

describe("buildDeployWorkflow", () => {
  it("produces a definition asl-validator accepts", () => {
    const { isValid, errors } = aslValidator(definition);
    expect(errors).toEqual([]);
    expect(isValid).toBe(true);
  });

  it("binds every Task state to a function Kiln deploys", () => {
    const tasks = states.filter(([, state]) => state.Type === "Task");
    expect(tasks.map(([name]) => name).sort()).toEqual(Object.keys(deployTaskFunctions).sort());
    for (const [name, state] of tasks) {
      const fn = deployTaskFunctions[name as keyof typeof deployTaskFunctions];
      expect(fn in kilnFunctions).toBe(true);
      if (state.Resource === invokeWithCallback || state.Resource === invokeLambda) {
        expect((state.Parameters as { FunctionName: string }).FunctionName, name).toBe(arn(fn));
      } else {
        expect(state.Resource, name).toBe(arn(fn));
      }
    }
  });

  it("queues its notifications as Event invocations and goes on whatever becomes of them", () => {
    const notifications = states.filter(([, state]) => state.Resource === invokeLambda);
    expect(notifications.map(([name]) => name).sort()).toEqual([
      "NotifyOutcome",
      "NotifyStarted",
      "NotifySucceeded",
    ]);
    for (const [name, state] of notifications) {
      expect(state.Parameters, name).toMatchObject({ FunctionName: arn("notify"), InvocationType: "Event" });
      expect(state.ResultPath, name).toBeNull();
      expect(state.Catch, name).toEqual([
        { ErrorEquals: ["States.ALL"], ResultPath: null, Next: state.Next },
      ]);
    }
    expect(definition.States.NotifyStarted?.Parameters).toEqual({
      FunctionName: arn("notify"),
      InvocationType: "Event",
      Payload: { "deploymentId.$": "$.deploymentId", kind: "STARTED" },
    });
  });

  it("pauses on a task token for the builder, the image, the canary's boot, the refresh and its rollback, checking by itself after the poll interval", () => {
    const watches = states.filter(([, state]) => state.Resource === invokeWithCallback);
    expect(watches.map(([name]) => name).sort()).toEqual([
      "WatchBuilder",
      "WatchCanary",
      "WatchImage",
      "WatchRefresh",
      "WatchRollback",
    ]);
    for (const [name, state] of watches) {
      expect(state.Parameters, name).toMatchObject({
        FunctionName: arn("watch"),
        Payload: { "taskToken.$": "$$.Task.Token", "state.$": "$" },
      });
      expect(String(state.TimeoutSecondsPath), name).toMatch(/^\$\.plan\.poll\./);
      const onTimeout = (state.Catch as Array<{ ErrorEquals: string[]; Next: string }>)[0];
      expect(onTimeout?.ErrorEquals, name).toEqual(["States.Timeout"]);
      if (name === "WatchCanary") {
        // Booted or gone, with or without an event: the canary's health check tells which.
        expect([state.Next, onTimeout?.Next, state.ResultPath]).toEqual(["CheckCanary", "CheckCanary", null]);
        continue;
      }
      const check = definition.States[onTimeout?.Next ?? ""];
      // The check and the watch lead to the same Choice, which reads both verdicts the same way.
      expect(check?.Type, name).toBe("Task");
      expect(check?.Next, name).toBe(state.Next);
      expect(check?.ResultPath, name).toBe(state.ResultPath);
      expect(definition.States[String(state.Next)]?.Type, name).toBe("Choice");
    }
  });

  it("sends every catch of the happy path to Cleanup", () => {
    const failurePath = new Set([
      "Cleanup",
      "RecordOutcome",
      "NotifyOutcome",
      "ReleaseLock",
      "NotifyStarted",
      "NotifySucceeded",
      "ReleaseLockAfterSuccess",
    ]);
    for (const [name, state] of states) {
      if (state.Type !== "Task" || failurePath.has(name)) continue;
      // A Watch task's timeout first sends it to its check (the previous test).
      const catchers = (state.Catch as Array<{ ErrorEquals: string[] }>).filter(
        (catcher) => !catcher.ErrorEquals.includes("States.Timeout"),
      );
      expect(catchers, name).toEqual([
        { ErrorEquals: ["States.ALL"], ResultPath: "$.error", Next: "Cleanup" },
      ]);
    }
  });

  it("retries only transient errors on the steps", () => {
    for (const [name, state] of states) {
      if (state.Type !== "Task" || name === "ReleaseLock") continue;
      const retriers = state.Retry as Array<{ ErrorEquals: string[] }>;
      expect(
        retriers.flatMap((retrier) => retrier.ErrorEquals),
        name,
      ).not.toContain("States.ALL");
      expect(
        retriers.flatMap((retrier) => retrier.ErrorEquals),
        name,
      ).toContain("TransientAwsError");
    }
  });

  it("reaches every state from StartAt, and the failure path ends in a Fail state", () => {
    const seen = new Set<string>();
    const queue = [definition.StartAt];
    while (queue.length > 0) {
      const name = queue.shift() as string;
      if (seen.has(name)) continue;
      seen.add(name);
      const state = definition.States[name];
      expect(state, `state ${name} is referenced but missing`).toBeDefined();
      queue.push(...targets(state as Record<string, unknown>));
    }
    expect([...seen].sort()).toEqual(Object.keys(definition.States).sort());
    expect(definition.States.ReleaseLock?.Next).toBe("DeploymentFailed");
    expect(definition.States.DeploymentFailed?.Type).toBe("Fail");
  });

  it("watches a booting canary again, and waits a poll interval between its healthy answers", () => {
    expect(definition.States["CanaryDone?"]).toMatchObject({
      Choices: [
        { Variable: "$.canaryCheck.status", StringEquals: "BOOTING", Next: "WatchCanary" },
        { Variable: "$.canaryCheck.status", StringEquals: "RUNNING", Next: "WaitForCanary" },
        { Variable: "$.canaryCheck.status", StringEquals: "SUCCEEDED", Next: "PinGroupVersion" },
      ],
      Default: "CanaryFailed",
    });
    expect(definition.States.LaunchCanary?.Next).toBe("WatchCanary");
    expect(definition.States.WaitForCanary).toMatchObject({
      SecondsPath: "$.plan.poll.canarySeconds",
      Next: "CheckCanary",
    });
  });

  it("waits with intervals from the plan, never a fixed sleep", () => {
    const waits = states.filter(([, state]) => state.Type === "Wait");
    expect(waits.map(([name]) => name)).toEqual(["WaitForCanary"]);
    for (const [, state] of waits) expect(String(state.SecondsPath)).toMatch(/^\$\.plan\.poll\./);
  });
});
