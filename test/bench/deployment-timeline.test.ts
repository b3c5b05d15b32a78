/**
 * A deployment's timeline from its execution history and the local cloud's records: the floor is
 * the local cloud's time inside each wait loop, and the overhead is exactly Kiln's part — its time
 * outside the loops, each loop's detection lag and the canary's further probes.
 */
import type { HistoryEvent } from "@aws-sdk/client-sfn";
import { describe, expect, it } from "vitest";
import { deploymentTimeline, type TimelineInput } from "../../bench/deployment-timeline.ts";
import type { Deployment } from "../../core/deployment.ts";

const epoch = Date.parse("2026-11-22T10:00:00.000Z");

/** Events as GetExecutionHistory returns them, at ms offsets from `epoch`. */
function history(entries: Array<[at: number, type: string, name?: string, output?: object]>): HistoryEvent[] {
  return entries.map(([at, type, name, output], index) => ({
    id: index + 1,
    timestamp: new Date(epoch + at),
    type: type as HistoryEvent["type"],
    ...(type.endsWith("StateEntered") ? { stateEnteredEventDetails: { name } } : {}),
    ...(type.endsWith("StateExited")
      ? {
          stateExitedEventDetails: {
            name,
            output: output === undefined ? undefined : JSON.stringify(output),
          },
        }
      : {}),
  }));
}

/** A state entered at `from` and exited at `to`. */
const state = (name: string, from: number, to: number, type = "Task", output?: object) =>
  [
    [from, `${type}StateEntered`, name],
    [to, `${type}StateExited`, name, output],
  ] as Array<[number, string, string, object?]>;

/** A fresh bake: request 0–100, a builder loop, an image loop, the canary's loop, the refresh loop. */
function freshBake(): TimelineInput {
  const events = history([
    [100, "ExecutionStarted"],
    ...state("Prepare", 100, 200),
    ...state("LaunchBuilder", 200, 250),
    ...state("WatchBuilder", 250, 2_000),
    ...state("BuilderDone?", 2_000, 2_010, "Choice"),
    ...state("CreateImage", 2_010, 2_050),
    ...state("WatchImage", 2_050, 5_055),
    ...state("ImageDone?", 5_055, 5_060, "Choice"),
    ...state("LaunchCanary", 5_060, 5_100),
    // The boot's event resumes the watch; the check probes until the service, listening at
    // 6,200, answers; one more healthy answer an interval later confirms it.
    ...state("WatchCanary", 5_100, 6_020),
    ...state("CheckCanary", 6_020, 6_290, "Task", { canaryCheck: { status: "RUNNING", consecutive: 1 } }),
    ...state("CanaryDone?", 6_290, 6_300, "Choice"),
    ...state("WaitForCanary", 6_300, 7_490, "Wait"),
    ...state("CheckCanary", 7_490, 7_500, "Task", { canaryCheck: { status: "SUCCEEDED", consecutive: 2 } }),
    ...state("CanaryDone?", 7_500, 7_510, "Choice"),
    ...state("PinGroupVersion", 7_510, 7_600),
    ...state("StartRefresh", 7_600, 7_650),
    ...state("WatchRefresh", 7_650, 12_055),
    ...state("RefreshDone?", 12_055, 12_060, "Choice"),
    ...state("Finish", 12_060, 12_150),
    [12_200, "ExecutionSucceeded"],
  ]);
  const operation = (operation: string, endedAt: number, ms: number, subject: string) => ({
    operation,
    endedAt: epoch + endedAt,
    ms,
    subject,
  });
  return {
    requestedAt: epoch,
    record: { endedAt: new Date(epoch + 12_100).toISOString() } as Deployment,
    events,
    operations: [
      operation("ec2:boot", 1_000, 700, "i-builder"),
      operation("ec2:stop", 1_990, 300, "i-builder"),
      operation("ec2:snapshot", 5_050, 2_500, "ami-new"),
      operation("ec2:boot", 6_000, 800, "i-canary"),
      operation("autoscaling:refresh", 12_050, 4_500, "svc"),
    ],
    canaryListeningAt: epoch + 6_200,
    poll: { builderSeconds: 3, imageSeconds: 3, canarySeconds: 1, refreshSeconds: 3 },
  };
}

describe("deploymentTimeline", () => {
  const timeline = deploymentTimeline(freshBake());

  it("takes as the floor the local cloud's time from each loop's start to its condition", () => {
    expect(timeline.floorMs).toEqual({
      request: 0,
      prepare: 0,
      bake: 1_990 - 250 + (5_050 - 2_050),
      canary: 6_200 - 5_100,
      roll: 12_050 - 7_650,
      finish: 0,
    });
    expect(timeline.floorTotalMs).toBe(10_240);
    expect(timeline.leadMs).toBe(12_100);
  });

  it("splits the floor into the timescale's durations and the instance work around them", () => {
    // Each loop's timed operations, clipped to the loop: 1,000 + 2,500 + 800 + 4,400.
    expect(timeline.floorParts).toEqual({ timedMs: 8_700, instanceWorkMs: 10_240 - 8_700 });
  });

  it("leaves as overhead only detection lag, the canary's further probe and Kiln's time outside the loops", () => {
    const lags = Object.fromEntries(timeline.loops.map((loop) => [loop.loop, loop.lagMs]));
    expect(lags).toEqual({ builder: 20, image: 10, canary: 100, refresh: 10 });
    expect(timeline.overhead).toEqual({
      totalMs: 12_100 - 10_240,
      detectionLagMs: 140,
      canaryConfirmationMs: 1_210,
      // Upload → LaunchBuilder returned, and the four steps between loops: 250 + 40 + 40 + 140 + 40.
      orchestrationMs: 510,
    });
  });

  it("counts the canary's checks up to the one that found it healthy, and that check's share of the lag", () => {
    expect(timeline.loops.find((loop) => loop.loop === "canary")).toMatchObject({
      waits: "event + probes",
      startedAt: epoch + 5_100,
      conditionAt: epoch + 6_200,
      detectedAt: epoch + 6_300,
      checks: 2,
      // Probing since 6,020, it found the service 100 ms after it began to listen.
      checkMs: 6_300 - 6_200,
    });
  });

  it("names the moment it cannot find", () => {
    const input = freshBake();
    expect(() => deploymentTimeline({ ...input, canaryListeningAt: undefined })).toThrow(
      "the deployment's timeline lacks the canary's service listening",
    );
    expect(() =>
      deploymentTimeline({
        ...input,
        operations: input.operations.filter((event) => event.operation !== "ec2:snapshot"),
      }),
    ).toThrow("the deployment's timeline lacks the image's snapshot");
  });
});
