/**
 * The deploy workflow: JSONPath ASL built in TypeScript. The same definition runs on AWS Step
 * Functions and in the local cloud; only the function ARNs differ. No function ever sleeps:
 *
 * - Slow AWS operations (the builder's bake, the image, the instance refresh and its rollback)
 *   are start → Watch loops. A Watch task pauses on a task token until an EC2 or Auto Scaling
 *   event says the operation is over (core/deploy/watch.ts, workflows/event-rules.ts); when no
 *   event comes within the service's poll interval (`$.plan.poll`), the task times out and the
 *   workflow checks by itself, then watches again.
 * - The canary's boot is watched the same way. Its health has no event: it is a Check → Choice →
 *   Wait poll loop, whose check keeps probing a canary that does not answer yet for up to one
 *   poll interval (core/deploy/canary.ts).
 *
 * Every failure goes through one path: Cleanup → RecordOutcome → NotifyOutcome → ReleaseLock →
 * DeploymentFailed.
 */
import type { WatchKind } from "../core/deploy/watch.ts";
import type { KilnFunctionName } from "./functions.ts";

type State = Record<string, unknown>;

export interface StateMachineDefinition {
  Comment: string;
  StartAt: string;
  TimeoutSeconds: number;
  States: Record<string, State>;
}

/** Errors worth another attempt: Kiln's transient AWS errors and Lambda's own service hiccups. */
export const retriedErrors = [
  "TransientAwsError",
  "Lambda.ServiceException",
  "Lambda.AWSLambdaException",
  "Lambda.SdkClientException",
  "Lambda.TooManyRequestsException",
];

/** The state name → function binding, for every Task state (the local cloud binds by state name). */
export const deployTaskFunctions = {
  Prepare: "prepare",
  NotifyStarted: "notify",
  LaunchBuilder: "launchBuilder",
  WatchBuilder: "watch",
  CheckBuilder: "checkBuilder",
  CreateImage: "createImage",
  WatchImage: "watch",
  CheckImage: "checkImage",
  TerminateBuilder: "terminateInstances",
  LaunchCanary: "launchCanary",
  WatchCanary: "watch",
  CheckCanary: "checkCanary",
  PinGroupVersion: "pinGroupVersion",
  CreateTemplateVersion: "createTemplateVersion",
  StartRefresh: "startRefresh",
  WatchRefresh: "watch",
  CheckRefresh: "checkRefresh",
  RollBack: "rollBack",
  WatchRollback: "watch",
  CheckRollback: "checkRefresh",
  Finish: "finish",
  NotifySucceeded: "notify",
  ReleaseLockAfterSuccess: "releaseLock",
  Cleanup: "terminateInstances",
  RecordOutcome: "recordOutcome",
  NotifyOutcome: "notify",
  ReleaseLock: "releaseLock",
} as const satisfies Record<string, KilnFunctionName>;

export type DeployTaskState = keyof typeof deployTaskFunctions;

/** The Lambda integration: `Parameters` name the function and how it is invoked. */
export const invokeLambda = "arn:aws:states:::lambda:invoke";

/** The callback integration: the task waits for SendTaskSuccess with the token it was given. */
export const invokeWithCallback = "arn:aws:states:::lambda:invoke.waitForTaskToken";

/** The whole workflow gives up after this long; a service's lock lease outlives it. */
export const deployTimeoutSeconds = 3 * 60 * 60;

const retry = [
  {
    ErrorEquals: retriedErrors,
    IntervalSeconds: 2,
    MaxAttempts: 5,
    BackoffRate: 2,
    MaxDelaySeconds: 30,
    JitterStrategy: "FULL",
  },
];
const toCleanup = [{ ErrorEquals: ["States.ALL"], ResultPath: "$.error", Next: "Cleanup" }];

/** Builds the definition; `functionArn` names the deployed function behind each task. */
export function buildDeployWorkflow(functionArn: (name: KilnFunctionName) => string): StateMachineDefinition {
  const task = (state: DeployTaskState, fields: State): State => ({
    Type: "Task",
    Resource: functionArn(deployTaskFunctions[state]),
    TimeoutSeconds: 120,
    Retry: retry,
    ...fields,
  });
  /** A start/check task in the happy path: its result under `resultPath`, failures to Cleanup. */
  const step = (state: DeployTaskState, resultPath: string | null, next: string, extra: State = {}) =>
    task(state, { ResultPath: resultPath, Next: next, Catch: toCleanup, ...extra });
  const wait = (secondsPath: string, next: string): State => ({
    Type: "Wait",
    SecondsPath: secondsPath,
    Next: next,
  });
  const statusIs = (variable: string, value: string, next: string) => ({
    Variable: variable,
    StringEquals: value,
    Next: next,
  });
  /** Turns a FAILED check verdict into the error the failure path records. */
  const failWith = (error: string, causePath: string): State => ({
    Type: "Pass",
    Parameters: { Error: error, "Cause.$": causePath },
    ResultPath: "$.error",
    Next: "Cleanup",
  });
  type PollSeconds = "builderSeconds" | "imageSeconds" | "canarySeconds" | "refreshSeconds";
  /** The Choice after a check: its verdict either loops back or moves on. */
  const decide = (resultPath: string, branches: Record<string, string>, otherwise: string): State => ({
    Type: "Choice",
    Choices: Object.entries(branches).map(([status, next]) => statusIs(`${resultPath}.status`, status, next)),
    Default: otherwise,
  });
  /** A loop's check, the Choice reading its verdict, and where each verdict leads. */
  interface Loop {
    check: DeployTaskState;
    decide: string;
    pollSeconds: PollSeconds;
    resultPath: string;
    branches: Record<string, string>;
    otherwise: string;
  }
  /** Wait → Check → Choice: the check's verdict either loops back to the wait or moves on. */
  const pollLoop = (loop: Loop & { wait: string }): Record<string, State> => ({
    [loop.wait]: wait(`$.plan.poll.${loop.pollSeconds}`, loop.check),
    [loop.check]: step(loop.check, loop.resultPath, loop.decide),
    [loop.decide]: decide(loop.resultPath, loop.branches, loop.otherwise),
  });
  /**
   * A Watch task: paused until `watch` or `wake` hands it the verdict of `kind`'s check, or, when
   * no event came within the poll interval, on to `check`.
   */
  const watchTask = (watch: {
    state: DeployTaskState;
    kind: WatchKind;
    check: DeployTaskState;
    pollSeconds: PollSeconds;
    resultPath: string | null;
    next: string;
  }): State => ({
    Type: "Task",
    Resource: invokeWithCallback,
    Parameters: {
      FunctionName: functionArn(deployTaskFunctions[watch.state]),
      Payload: { kind: watch.kind, "taskToken.$": "$$.Task.Token", "state.$": "$" },
    },
    TimeoutSecondsPath: `$.plan.poll.${watch.pollSeconds}`,
    ResultPath: watch.resultPath,
    Retry: retry,
    Catch: [{ ErrorEquals: ["States.Timeout"], ResultPath: null, Next: watch.check }, ...toCleanup],
    Next: watch.next,
  });
  /**
   * Watch → Choice, with Check when no event came within the poll interval: the watch task
   * resumes with the same verdict the check gives, so both lead to the same Choice.
   */
  const watchLoop = (loop: Loop & { watch: DeployTaskState; kind: WatchKind }): Record<string, State> => ({
    [loop.watch]: watchTask({ ...loop, state: loop.watch, next: loop.decide }),
    [loop.check]: step(loop.check, loop.resultPath, loop.decide),
    [loop.decide]: decide(loop.resultPath, loop.branches, loop.otherwise),
  });
  /**
   * A notification, queued as an asynchronous (Event) invocation: the deployment goes on at once
   * instead of waiting for Slack and email, and Lambda retries a notification that fails.
   */
  const notify = (state: DeployTaskState, next: string, kind?: "STARTED"): State =>
    task(state, {
      Resource: invokeLambda,
      Parameters: {
        FunctionName: functionArn(deployTaskFunctions[state]),
        InvocationType: "Event",
        Payload: { "deploymentId.$": "$.deploymentId", ...(kind ? { kind } : {}) },
      },
      ResultPath: null,
      Next: next,
      // A notification never decides a deployment's fate.
      Catch: [{ ErrorEquals: ["States.ALL"], ResultPath: null, Next: next }],
    });

  return {
    Comment: "Kiln deploy: bake an image from an artifact, prove it on a canary, roll the group",
    StartAt: "Prepare",
    TimeoutSeconds: deployTimeoutSeconds,
    States: {
      Prepare: step("Prepare", "$.plan", "NotifyStarted"),
      NotifyStarted: notify("NotifyStarted", "CacheHit?", "STARTED"),
      "CacheHit?": {
        Type: "Choice",
        Choices: [{ Variable: "$.plan.cachedImageId", IsString: true, Next: "UseCachedImage" }],
        Default: "LaunchBuilder",
      },
      UseCachedImage: {
        Type: "Pass",
        Parameters: { "imageId.$": "$.plan.cachedImageId", cached: true },
        ResultPath: "$.image",
        Next: "LaunchCanary",
      },

      LaunchBuilder: step("LaunchBuilder", "$.builder", "WatchBuilder"),
      ...watchLoop({
        watch: "WatchBuilder",
        kind: "builder",
        check: "CheckBuilder",
        decide: "BuilderDone?",
        pollSeconds: "builderSeconds",
        resultPath: "$.builderCheck",
        branches: { RUNNING: "WatchBuilder", SUCCEEDED: "CreateImage" },
        otherwise: "BakeFailed",
      }),
      BakeFailed: failWith("BakeFailedError", "$.builderCheck.reason"),
      CreateImage: step("CreateImage", "$.image", "WatchImage"),
      ...watchLoop({
        watch: "WatchImage",
        kind: "image",
        check: "CheckImage",
        decide: "ImageDone?",
        pollSeconds: "imageSeconds",
        resultPath: "$.imageCheck",
        branches: { RUNNING: "WatchImage", SUCCEEDED: "TerminateBuilder" },
        otherwise: "ImageFailed",
      }),
      ImageFailed: failWith("ImageFailedError", "$.imageCheck.reason"),
      TerminateBuilder: step("TerminateBuilder", null, "LaunchCanary", {
        Parameters: { "deployment.$": "$", roles: ["builder"] },
      }),

      LaunchCanary: step("LaunchCanary", "$.canary", "WatchCanary"),
      // Booted (or gone) either way: the health check that follows tells which. Instance state
      // changes share the builder's interval for checking without an event.
      WatchCanary: watchTask({
        state: "WatchCanary",
        kind: "canary",
        check: "CheckCanary",
        pollSeconds: "builderSeconds",
        resultPath: null,
        next: "CheckCanary",
      }),
      ...pollLoop({
        wait: "WaitForCanary",
        check: "CheckCanary",
        decide: "CanaryDone?",
        pollSeconds: "canarySeconds",
        resultPath: "$.canaryCheck",
        branches: { BOOTING: "WatchCanary", RUNNING: "WaitForCanary", SUCCEEDED: "PinGroupVersion" },
        otherwise: "CanaryFailed",
      }),
      CanaryFailed: failWith("CanaryUnhealthyError", "$.canaryCheck.reason"),

      PinGroupVersion: step("PinGroupVersion", "$.group", "CreateTemplateVersion"),
      CreateTemplateVersion: step("CreateTemplateVersion", "$.template", "StartRefresh"),
      StartRefresh: step("StartRefresh", "$.refresh", "WatchRefresh"),
      ...watchLoop({
        watch: "WatchRefresh",
        kind: "refresh",
        check: "CheckRefresh",
        decide: "RefreshDone?",
        pollSeconds: "refreshSeconds",
        resultPath: "$.refreshCheck",
        branches: {
          RUNNING: "WatchRefresh",
          ROLLING_BACK: "WatchRefresh",
          SUCCEEDED: "Finish",
          ROLLED_BACK: "RefreshRolledBack",
        },
        otherwise: "RollBack",
      }),
      RefreshRolledBack: failWith("RefreshFailedError", "$.refreshCheck.reason"),
      RollBack: step("RollBack", "$.rollback", "WatchRollback"),
      ...watchLoop({
        watch: "WatchRollback",
        kind: "rollback",
        check: "CheckRollback",
        decide: "RollbackDone?",
        pollSeconds: "refreshSeconds",
        resultPath: "$.refreshCheck",
        branches: {
          RUNNING: "WatchRollback",
          ROLLING_BACK: "WatchRollback",
          SUCCEEDED: "RolledBack",
          ROLLED_BACK: "RolledBack",
        },
        otherwise: "RollbackFailed",
      }),
      RolledBack: failWith("RefreshFailedError", "$.rollback.reason"),
      RollbackFailed: failWith("RollbackFailedError", "$.refreshCheck.reason"),

      Finish: step("Finish", null, "NotifySucceeded"),
      NotifySucceeded: notify("NotifySucceeded", "ReleaseLockAfterSuccess"),
      ReleaseLockAfterSuccess: task("ReleaseLockAfterSuccess", { ResultPath: "$.next", Next: "Deployed" }),
      Deployed: { Type: "Succeed" },

      Cleanup: task("Cleanup", {
        Parameters: { "deployment.$": "$", roles: ["builder", "canary"] },
        ResultPath: null,
        Next: "RecordOutcome",
        Catch: [{ ErrorEquals: ["States.ALL"], ResultPath: "$.cleanupError", Next: "RecordOutcome" }],
      }),
      RecordOutcome: task("RecordOutcome", {
        ResultPath: "$.outcome",
        Next: "NotifyOutcome",
        Catch: [{ ErrorEquals: ["States.ALL"], ResultPath: "$.recordError", Next: "NotifyOutcome" }],
      }),
      NotifyOutcome: notify("NotifyOutcome", "ReleaseLock"),
      ReleaseLock: task("ReleaseLock", {
        ResultPath: "$.next",
        Next: "DeploymentFailed",
        Retry: [{ ...retry[0], ErrorEquals: ["States.ALL"], MaxAttempts: 8 }],
      }),
      DeploymentFailed: { Type: "Fail", ErrorPath: "$.error.Error", CausePath: "$.error.Cause" },
    },
  };
}
