/**
 * One deployment's timeline, put together from three independent clocks on the same machine:
 * the benchmark's (when the artifact was uploaded), the workflow's (its execution history, as
 * GetExecutionHistory returns it) and the local cloud's (when each AWS-like operation ended, and
 * when the canary's service began to listen). From it come the lead time per stage, the floor,
 * and the detection lag of each wait loop.
 *
 * The floor is the local cloud's time inside the wait loops: in each, from the task that started
 * the operation returning (the operation is under way by then) to the local cloud reporting it
 * done — the builder stopped, the image available, the canary's service listening, the refresh
 * ended. All of that is the local cloud at work (boots, disk copies, the bake script, the
 * snapshot, service starts, replacements), none of it Kiln's: Kiln's part of the lead time is the
 * rest — its tasks outside the loops, the request, each loop's detection lag and the canary's
 * further probes.
 */
import type { HistoryEvent } from "@aws-sdk/client-sfn";
import type { Deployment } from "../core/deployment.ts";
import type { OperationEvent } from "./recording-timescale.ts";

export type StageName = "request" | "prepare" | "bake" | "canary" | "roll" | "finish";
export const stageNames: StageName[] = ["request", "prepare", "bake", "canary", "roll", "finish"];

export type LoopName = "builder" | "image" | "canary" | "refresh";
export const loopNames: LoopName[] = ["builder", "image", "canary", "refresh"];

export interface WaitLoop {
  loop: LoopName;
  /**
   * How the loop learns the condition: AWS's event wakes its Watch task ("event"), or, for the
   * canary, an event ends its boot's watch and its check probes the service until it answers
   * ("event + probes").
   */
  waits: "event" | "event + probes";
  /**
   * The service's `poll.*Seconds`: a poll loop's Wait, or how long a Watch task waits for an
   * event before checking by itself.
   */
  pollSeconds: number;
  /** When the task that started the AWS operation returned (the loop's first wait begins). */
  startedAt: number;
  /** When the condition became true in the local cloud. */
  conditionAt: number;
  /** When the loop's Choice first acted on it. */
  detectedAt: number;
  /** detectedAt − conditionAt. */
  lagMs: number;
  /** Checks the workflow made (one Lambda invocation each: Watch registrations and Check states). */
  checks: number;
  /**
   * Of the lag, what followed the last Wait or Watch (or the condition, for a check already under
   * way): the check that saw the condition (the canary's), and the Choice.
   */
  checkMs: number;
  /** conditionAt − startedAt: what AWS (here, the local cloud) took, as the workflow saw it: the loop's floor. */
  observedMs: number;
  /** The part of it the local cloud's timescale reports as AWS-like durations (boot, stop, snapshot, refresh). */
  timedMs: number;
  /** Operations counted in timedMs. */
  operations: string[];
}

export interface DeploymentTimeline {
  /** Upload (or request) → SUCCEEDED recorded. */
  leadMs: number;
  stagesMs: Record<StageName, number>;
  /** The local cloud's time inside the wait loops, per stage (each loop's observedMs). */
  floorMs: Record<StageName, number>;
  floorTotalMs: number;
  /** What the floor holds: the timescale's AWS-like durations, and the instance work around them (disk copies, user data, process and service starts). */
  floorParts: { timedMs: number; instanceWorkMs: number };
  loops: WaitLoop[];
  /** The canary's further healthy probes after the first: healthyThreshold − 1 poll intervals, by design. */
  canaryConfirmationMs: number;
  overhead: {
    totalMs: number;
    /** Σ detection lag of the wait loops. */
    detectionLagMs: number;
    canaryConfirmationMs: number;
    /** The rest: Kiln's functions and the workflow's transitions outside the loops, the S3 event, the request. */
    orchestrationMs: number;
  };
  /** SUCCEEDED recorded → the execution ended (notify, hand the lock on): after the lead time. */
  afterSuccessMs: number;
}

interface StateEvent {
  at: number;
  type: string;
  name: string;
  output?: string | undefined;
}

function stateEvents(events: HistoryEvent[]): StateEvent[] {
  return events.map((event) => ({
    at: event.timestamp instanceof Date ? event.timestamp.getTime() : Number(event.timestamp),
    type: event.type ?? "",
    name: event.stateEnteredEventDetails?.name ?? event.stateExitedEventDetails?.name ?? "",
    output: event.stateExitedEventDetails?.output,
  }));
}

class EventLog {
  constructor(readonly events: StateEvent[]) {}

  entered(name: string): StateEvent[] {
    return this.events.filter((event) => event.type.endsWith("StateEntered") && event.name === name);
  }

  exited(name: string): StateEvent[] {
    return this.events.filter((event) => event.type.endsWith("StateExited") && event.name === name);
  }

  firstEntered(name: string): number | undefined {
    return this.entered(name)[0]?.at;
  }

  lastExited(name: string): number | undefined {
    return this.exited(name).at(-1)?.at;
  }

  /** The last exit of `name` at or before `at`. */
  lastExitedBefore(name: string, at: number): number | undefined {
    return this.exited(name)
      .filter((event) => event.at <= at)
      .at(-1)?.at;
  }

  /** The first exit of `choice` at or after `at`. */
  choiceExitAfter(choice: string, at: number): number | undefined {
    return this.exited(choice).find((event) => event.at >= at)?.at;
  }

  typeAt(type: string): number | undefined {
    return this.events.find((event) => event.type === type)?.at;
  }
}

/** The first operation of `name` that ended within [from, to]. */
function firstOperation(
  operations: OperationEvent[],
  name: string,
  from: number,
  to = Number.POSITIVE_INFINITY,
) {
  return operations.find((event) => event.operation === name && event.endedAt >= from && event.endedAt <= to);
}

function required<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`the deployment's timeline lacks ${what}`);
  return value;
}

export interface TimelineInput {
  requestedAt: number;
  record: Deployment;
  events: HistoryEvent[];
  operations: OperationEvent[];
  /** When the canary's service began to listen (from its console). */
  canaryListeningAt: number | undefined;
  poll: { builderSeconds: number; imageSeconds: number; canarySeconds: number; refreshSeconds: number };
}

/** Builds a successful deployment's timeline; throws when a moment it needs is missing. */
export function deploymentTimeline(input: TimelineInput): DeploymentTimeline {
  const log = new EventLog(stateEvents(input.events));
  const { operations, poll } = input;
  const endedAt = Date.parse(required(input.record.endedAt, "the SUCCEEDED record's endedAt"));
  const executionStarted = required(log.typeAt("ExecutionStarted"), "ExecutionStarted");
  const executionEnded = required(log.typeAt("ExecutionSucceeded"), "ExecutionSucceeded");
  const fresh = log.firstEntered("LaunchBuilder") !== undefined;
  const canaryStart = required(log.firstEntered("LaunchCanary"), "LaunchCanary");
  const rollStart = required(log.firstEntered("PinGroupVersion"), "PinGroupVersion");
  const finishStart = required(log.firstEntered("Finish"), "Finish");
  const bakeStart = fresh ? required(log.firstEntered("LaunchBuilder"), "LaunchBuilder") : canaryStart;

  const stagesMs: Record<StageName, number> = {
    request: executionStarted - input.requestedAt,
    prepare: bakeStart - executionStarted,
    bake: canaryStart - bakeStart,
    canary: rollStart - canaryStart,
    roll: finishStart - rollStart,
    finish: endedAt - finishStart,
  };

  const loops: WaitLoop[] = [];
  /** A loop whose condition the local cloud reports as the end of `condition`. */
  const loopOn = (
    loop: LoopName,
    startTask: string,
    [watch, check, choice]: [string, string, string],
    pollSeconds: number,
    timed: OperationEvent[],
    condition: OperationEvent,
  ) => {
    const startedAt = required(log.lastExited(startTask), `${startTask} exited`);
    // The Choice that let the workflow move on: its last exit. (An earlier exit can fall after
    // the condition yet act on a check that read the state just before it.)
    const detectedAt = required(log.lastExited(choice), `${choice} exited`);
    const observedMs = condition.endedAt - startedAt;
    loops.push({
      loop,
      waits: "event",
      pollSeconds,
      startedAt,
      conditionAt: condition.endedAt,
      detectedAt,
      lagMs: detectedAt - condition.endedAt,
      checks: log.entered(watch).length + log.entered(check).length,
      checkMs: detectedAt - (log.lastExitedBefore(watch, detectedAt) ?? detectedAt),
      observedMs,
      // An operation may have begun while the starting task was still returning: count only
      // what falls inside the loop.
      timedMs: Math.min(
        observedMs,
        timed.reduce((total, event) => total + event.ms, 0),
      ),
      operations: timed.map((event) => event.operation),
    });
  };

  if (fresh) {
    const launched = required(log.firstEntered("LaunchBuilder"), "LaunchBuilder");
    const boot = required(
      firstOperation(operations, "ec2:boot", launched, canaryStart),
      "the builder's boot",
    );
    const stop = required(
      firstOperation(operations, "ec2:stop", boot.endedAt, canaryStart),
      "the builder's stop",
    );
    loopOn(
      "builder",
      "LaunchBuilder",
      ["WatchBuilder", "CheckBuilder", "BuilderDone?"],
      poll.builderSeconds,
      [boot, stop],
      stop,
    );
    const imaging = required(log.firstEntered("CreateImage"), "CreateImage");
    const snapshot = required(
      firstOperation(operations, "ec2:snapshot", imaging, canaryStart),
      "the image's snapshot",
    );
    loopOn(
      "image",
      "CreateImage",
      ["WatchImage", "CheckImage", "ImageDone?"],
      poll.imageSeconds,
      [snapshot],
      snapshot,
    );
  }

  const canaryBoot = required(
    firstOperation(operations, "ec2:boot", canaryStart, rollStart),
    "the canary's boot",
  );
  const listeningAt = required(input.canaryListeningAt, "the canary's service listening");
  const canaryLaunched = required(log.lastExited("LaunchCanary"), "LaunchCanary exited");
  // The first check that found the canary healthy; the Choice after it counted the probe.
  const firstHealthy = log
    .exited("CheckCanary")
    .find((event) => event.output !== undefined && healthyProbes(event.output) >= 1);
  const canaryDetected = required(
    firstHealthy && log.choiceExitAfter("CanaryDone?", firstHealthy.at),
    "the first healthy canary check",
  );
  const canaryObservedMs = listeningAt - canaryLaunched;
  const checkedBefore = (name: string) =>
    log.entered(name).filter((event) => event.at < canaryDetected).length;
  const lastPause = Math.max(
    log.lastExitedBefore("WatchCanary", canaryDetected) ?? canaryLaunched,
    log.lastExitedBefore("WaitForCanary", canaryDetected) ?? canaryLaunched,
  );
  loops.push({
    loop: "canary",
    waits: "event + probes",
    pollSeconds: poll.canarySeconds,
    startedAt: canaryLaunched,
    conditionAt: listeningAt,
    detectedAt: canaryDetected,
    lagMs: canaryDetected - listeningAt,
    checks: checkedBefore("WatchCanary") + checkedBefore("CheckCanary"),
    // The check probes while the service starts: only what followed the condition is lag.
    checkMs: canaryDetected - Math.max(lastPause, listeningAt),
    observedMs: canaryObservedMs,
    timedMs: Math.min(canaryObservedMs, canaryBoot.ms),
    operations: [canaryBoot.operation],
  });
  const canaryConfirmationMs = required(log.lastExited("CanaryDone?"), "CanaryDone?") - canaryDetected;

  const refreshStart = required(log.firstEntered("StartRefresh"), "StartRefresh");
  const refresh = required(
    firstOperation(operations, "autoscaling:refresh", refreshStart, finishStart),
    "the refresh's end",
  );
  loopOn(
    "refresh",
    "StartRefresh",
    ["WatchRefresh", "CheckRefresh", "RefreshDone?"],
    poll.refreshSeconds,
    [refresh],
    refresh,
  );

  const byLoop = (name: LoopName) => loops.find((loop) => loop.loop === name)?.observedMs ?? 0;
  const floorMs: Record<StageName, number> = {
    request: 0,
    prepare: 0,
    bake: byLoop("builder") + byLoop("image"),
    canary: byLoop("canary"),
    roll: byLoop("refresh"),
    finish: 0,
  };
  const floorTotalMs = Object.values(floorMs).reduce((total, ms) => total + ms, 0);
  const leadMs = endedAt - input.requestedAt;
  const detectionLagMs = loops.reduce((total, loop) => total + loop.lagMs, 0);
  const timedMs = loops.reduce((total, loop) => total + loop.timedMs, 0);
  const overheadMs = leadMs - floorTotalMs;
  return {
    leadMs,
    stagesMs,
    floorMs,
    floorTotalMs,
    floorParts: { timedMs, instanceWorkMs: floorTotalMs - timedMs },
    loops,
    canaryConfirmationMs,
    overhead: {
      totalMs: overheadMs,
      detectionLagMs,
      canaryConfirmationMs,
      orchestrationMs: overheadMs - detectionLagMs - canaryConfirmationMs,
    },
    afterSuccessMs: executionEnded - endedAt,
  };
}

/** `canaryCheck.consecutive` in a CheckCanary state's output. */
function healthyProbes(output: string): number {
  try {
    const parsed: unknown = JSON.parse(output);
    if (typeof parsed !== "object" || parsed === null || !("canaryCheck" in parsed)) return 0;
    const check = parsed.canaryCheck;
    if (typeof check !== "object" || check === null || !("consecutive" in check)) return 0;
    return typeof check.consecutive === "number" ? check.consecutive : 0;
  } catch {
    return 0;
  }
}

/** The wait loops of the deploy workflow: the task that starts each, and the Choice that ends it. */
const waitLoopBounds: Array<[start: string, choice: string]> = [
  ["LaunchBuilder", "BuilderDone?"],
  ["CreateImage", "ImageDone?"],
  ["LaunchCanary", "CanaryDone?"],
  ["StartRefresh", "RefreshDone?"],
];

/** Each wait loop's interval: from its starting task's exit to its Choice's last exit. */
function loopIntervals(log: EventLog): Array<[from: number, to: number]> {
  return waitLoopBounds.flatMap(([start, choice]) => {
    const from = log.lastExited(start);
    const to = log.lastExited(choice);
    return from === undefined || to === undefined ? [] : [[from, to] as [number, number]];
  });
}

/**
 * Where the time outside the wait loops goes: the request (upload → execution started) and each
 * state entered outside a loop, entry to exit, summed by name. What is left between them is the
 * workflow's own transitions.
 */
export function timeOutsideWaitLoopsByPart(
  events: HistoryEvent[],
  requestedAt: number,
): Record<string, number> {
  const log = new EventLog(stateEvents(events));
  const loops = loopIntervals(log);
  // A loop's first wait is entered in the millisecond its starting task exits; the next step in the one its Choice exits.
  const inLoop = (at: number) => loops.some(([from, to]) => at >= from && at < to);
  const parts: Record<string, number> = {};
  const started = log.typeAt("ExecutionStarted");
  if (started !== undefined) parts.request = started - requestedAt;
  const open = new Map<string, number>();
  for (const event of log.events) {
    if (event.type.endsWith("StateEntered")) open.set(event.name, event.at);
    if (!event.type.endsWith("StateExited")) continue;
    const entered = open.get(event.name);
    open.delete(event.name);
    if (entered === undefined || inLoop(entered)) continue;
    parts[event.name] = (parts[event.name] ?? 0) + (event.at - entered);
  }
  return parts;
}
