/**
 * Figure 1: lead time of one deployment to a group of three (one with --quick), fresh bake and bake-cache hit, per
 * stage, beside the floor: the local cloud's time on the operations of the deployment's critical
 * path (the builder's boot, bake and stop, the snapshot, the canary's boot and service start, the
 * instance refresh), from each wait loop's start to the local cloud reporting its condition.
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
  canary: "canary boot and service start, health probes",
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
    title: "Lead time per stage, median over the runs (floor = the local cloud's time on the operations)",
    columns: ["stage", ...kinds.flatMap(([kind]) => [`${kind}: lead`, "floor"]), "what it holds"],
    rows,
  };
}

function overheadTable(kinds: Array<[DeploymentKind, DeploymentTimeline[]]>): Table {
  const part = (pick: (timeline: DeploymentTimeline) => number) =>
    kinds.map(([, timelines]) => (timelines.length === 0 ? "–" : seconds(med(timelines.map(pick)))));
  return {
    title: "Where the overhead (lead − floor) goes, and what the floor holds, median",
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
        "orchestration",
        ...part((t) => t.overhead.orchestrationMs),
        "Kiln's functions and transitions outside the wait loops, S3 event, request",
      ],
      [
        "floor: timed operations",
        ...part((t) => t.floorParts.timedMs),
        "the timescale's AWS-like durations: boot, stop, snapshot, refresh",
      ],
      [
        "floor: instance work",
        ...part((t) => t.floorParts.instanceWorkMs),
        "disk copies, the bake script, process and service starts around them",
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
    `Poll intervals: Kiln's defaults (15, 15, 5, 15 s) × the timescale, in whole seconds, at least 1: builder ${runs.poll.builderSeconds} s, image ${runs.poll.imageSeconds} s, canary ${runs.poll.canarySeconds} s, refresh ${runs.poll.refreshSeconds} s. The builder, image, canary boot and refresh waits are woken by events and check by themselves only after that long without one (the canary's boot after the builder's interval); the canary's check probes its service until it answers, within one canary interval, and it is healthy after ${runs.healthyThreshold} answers an interval apart.`,
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
    method: `${kinds.map(([kind, timelines]) => `${timelines.length} ${kind}`).join(" and ")} deployments, alternating, one at a time; median, min–max. Lead = artifact upload (or API request) → SUCCEEDED recorded; floor = in each wait loop, from the task that started the operation returning to the local cloud reporting it done (builder stopped and image available as the timescale records them, the canary's service listening on its console, the refresh's end): boots, disk copies, the bake script, the snapshot, service starts and replacements, none of it Kiln's.`,
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
