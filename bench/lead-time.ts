/**
 * Figure 1: lead time of one deployment to a group of three (one with --quick), fresh bake and bake-cache hit, per
 * stage, beside the floor: the time the local cloud reports for the AWS-like operations on the
 * deployment's critical path (builder boot and stop, snapshot, canary boot, instance refresh).
 * Overhead = lead time − floor, broken down into where it goes.
 */
import type { DeploymentKind, DeploymentObservation, DeploymentRuns } from "./deployment-runs.ts";
import { type DeploymentTimeline, type StageName, stageNames } from "./deployment-timeline.ts";
import { type FigureResult, ratio, seconds, type Table } from "./figure.ts";
import { summarize } from "./stats.ts";

export const leadTimeTarget = 1.1;

const stageMeaning: Record<StageName, string> = {
  request: "upload → execution started (S3 event, onArtifact) or the API request",
  prepare: "Prepare, NotifyStarted, cache look-up",
  bake: "builder boot → user data → stop; image snapshot (fresh bake only)",
  canary: "canary boot, health probes",
  roll: "pin version, template version, instance refresh of the group",
  finish: "Finish: canary terminated, image pinned, SUCCEEDED recorded",
};

function timelinesOf(runs: DeploymentRuns, kind: DeploymentKind): DeploymentTimeline[] {
  return runs.observations.flatMap((observation) =>
    observation.kind === kind && observation.timeline ? [observation.timeline] : [],
  );
}

const med = (values: number[]) => summarize(values).median;
const spread = (values: number[]) => {
  const summary = summarize(values);
  return `${(summary.min / 1000).toFixed(2)}–${(summary.max / 1000).toFixed(2)}`;
};

/** The stage table: median lead and floor per stage, for each kind of deployment. */
function stageTable(kinds: Array<[DeploymentKind, DeploymentTimeline[]]>): Table {
  const rows = stageNames.map((stage) => [
    stage,
    ...kinds.flatMap(([, timelines]) =>
      timelines.length === 0
        ? ["–", "–"]
        : [
            seconds(med(timelines.map((t) => t.stagesMs[stage]))),
            seconds(med(timelines.map((t) => t.floorMs[stage]))),
          ],
    ),
    stageMeaning[stage],
  ]);
  rows.push([
    "total",
    ...kinds.flatMap(([, timelines]) =>
      timelines.length === 0
        ? ["–", "–"]
        : [
            `${seconds(med(timelines.map((t) => t.leadMs)))} (${spread(timelines.map((t) => t.leadMs))})`,
            `${seconds(med(timelines.map((t) => t.floorTotalMs)))} (${spread(timelines.map((t) => t.floorTotalMs))})`,
          ],
    ),
    "median (min–max) over the runs",
  ]);
  rows.push([
    "lead/floor",
    ...kinds.flatMap(([, timelines]) =>
      timelines.length === 0 ? ["–", ""] : [ratio(med(timelines.map((t) => t.leadMs / t.floorTotalMs))), ""],
    ),
    `target ≤ ${leadTimeTarget.toFixed(2)}`,
  ]);
  return {
    title: "Lead time per stage, median over the runs (floor = AWS-like operations the local cloud reports)",
    columns: ["stage", ...kinds.flatMap(([kind]) => [`${kind}: lead`, "floor"]), "what it holds"],
    rows,
  };
}

function overheadTable(kinds: Array<[DeploymentKind, DeploymentTimeline[]]>): Table {
  const part = (pick: (timeline: DeploymentTimeline) => number) =>
    kinds.map(([, timelines]) => (timelines.length === 0 ? "–" : seconds(med(timelines.map(pick)))));
  return {
    title: "Where the overhead (lead − floor) goes, median",
    columns: ["part", ...kinds.map(([kind]) => kind), "what it is"],
    rows: [
      ["overhead", ...part((t) => t.overhead.totalMs), "lead time − floor"],
      [
        "detection lag",
        ...part((t) => t.overhead.detectionLagMs),
        "condition true → the wait loop's Choice acts (figure 2)",
      ],
      [
        "canary confirmation",
        ...part((t) => t.overhead.canaryConfirmationMs),
        "further healthy probes after the first (healthyThreshold − 1 poll intervals)",
      ],
      [
        "instance work not reported",
        ...part((t) => t.overhead.unreportedInstanceWorkMs),
        "disk copies, user data, service start: real work the timescale does not report",
      ],
      [
        "orchestration",
        ...part((t) => t.overhead.orchestrationMs),
        "Kiln's functions and transitions, S3 event, request",
      ],
      [
        "after SUCCEEDED",
        ...part((t) => t.afterSuccessMs),
        "notify, hand the lock on (not in the lead time)",
      ],
    ],
  };
}

/** Builds figure 1 from the observed deployments. */
export function leadTimeFigure(runs: DeploymentRuns): FigureResult {
  const kinds: Array<[DeploymentKind, DeploymentTimeline[]]> = [
    ["fresh bake", timelinesOf(runs, "fresh bake")],
    ["bake-cache hit", timelinesOf(runs, "bake-cache hit")],
  ];
  const failed = runs.observations.filter(
    (observation: DeploymentObservation) => observation.status !== "SUCCEEDED",
  );
  const unreadable = runs.observations.filter((observation) => observation.timelineError !== undefined);
  const targets = kinds.flatMap(([kind, timelines]) => {
    if (timelines.length === 0)
      return [
        { name: `lead/floor, ${kind}`, target: `≤ ${leadTimeTarget}`, actual: "not measured", met: false },
      ];
    const value = med(timelines.map((t) => t.leadMs / t.floorTotalMs));
    return [
      {
        name: `lead/floor, ${kind} (median)`,
        target: `≤ ${leadTimeTarget.toFixed(2)}`,
        actual: ratio(value),
        met: value <= leadTimeTarget,
      },
    ];
  });
  const notes = [
    `Each deployment ran alone on a quiet local cloud at timescale ${runs.timescale} (AWS-like durations × ${runs.timescale}: boot 20 s, stop 10 s, snapshot 60 s, warm-up 10 s${runs.jitter > 0 ? `, each varied by up to ±${Math.round(runs.jitter * 100)}% as AWS's vary` : ""}).`,
    `Poll intervals: Kiln's defaults (15, 15, 5, 15 s) × the timescale, in whole seconds, at least 1: builder ${runs.poll.builderSeconds} s, image ${runs.poll.imageSeconds} s, canary ${runs.poll.canarySeconds} s, refresh ${runs.poll.refreshSeconds} s. The builder, image and refresh waits are woken by events and check by themselves only after that long without one; the canary polls at its interval and is healthy after ${runs.healthyThreshold} probes.`,
    `Poll intervals are scaled like the durations, so the waiting part of the overhead keeps its proportion at AWS's own durations; Kiln's fixed costs (the orchestration row) would shrink relative to a floor ${Math.round(1 / runs.timescale)} times longer.`,
    ...failed.map(
      (observation) =>
        `${observation.kind} ${observation.version} ended ${observation.status}: ${observation.record.error?.message ?? ""}`,
    ),
    ...unreadable.map(
      (observation) =>
        `${observation.kind} ${observation.version}: timeline incomplete (${observation.timelineError})`,
    ),
  ];
  return {
    number: 1,
    id: "lead-time",
    title: `Deployment lead time vs the floor (group of ${runs.capacity})`,
    method: `${kinds.map(([kind, timelines]) => `${timelines.length} ${kind}`).join(" and ")} deployments, alternating, one at a time; median, min–max. Lead = artifact upload (or API request) → SUCCEEDED recorded; floor = AWS-like operations on the critical path as the local cloud's timescale reports them (each clipped to its wait loop).`,
    tables: [stageTable(kinds), overheadTable(kinds)],
    targets,
    notes,
    data: {
      timescale: runs.timescale,
      poll: runs.poll,
      runs: runs.observations.map((observation) => ({
        kind: observation.kind,
        version: observation.version,
        status: observation.status,
        deploymentId: observation.deploymentId,
        timeline: observation.timeline,
        timelineError: observation.timelineError,
      })),
    },
  };
}
