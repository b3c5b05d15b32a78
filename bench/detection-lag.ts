/**
 * Figure 2: detection lag of every wait loop: from the moment the condition became true in the
 * local cloud (builder stopped, image available, canary's service listening, refresh
 * Successful — see recording-timescale.ts and instance-readiness.ts) to the moment the loop's
 * Choice state acted on it (its exit in the execution history). The builder, image and refresh
 * loops are woken by the local cloud's EC2 and Auto Scaling events; the canary's boot is too, and
 * its check then probes the service until it answers.
 */
import { probeRetryMs } from "../core/aws/http-health-probe.ts";
import type { DeploymentRuns } from "./deployment-runs.ts";
import { type LoopName, loopNames, type WaitLoop } from "./deployment-timeline.ts";
import { type FigureResult, millis } from "./figure.ts";
import { summarize } from "./stats.ts";

const conditionOf: Record<LoopName, string> = {
  builder: "builder reached stopped (ec2:stop ended)",
  image: "image available (ec2:snapshot ended)",
  canary: "canary's service listening (its console) → first healthy probe counted",
  refresh: "instance refresh Successful (autoscaling:refresh ended)",
};

/** Builds figure 2 from the observed deployments. */
export function detectionLagFigure(runs: DeploymentRuns): FigureResult {
  // The first bake's refresh replaces nothing (its group is empty): not a wait worth timing.
  const loops: WaitLoop[] = runs.observations.flatMap((observation) =>
    (observation.timeline?.loops ?? []).filter(
      (loop) => !(observation.kind === "first bake (empty group)" && loop.loop === "refresh"),
    ),
  );
  const rows: string[][] = [];
  const targets = [];
  const negative = loops.filter((loop) => loop.lagMs < 0);
  for (const name of loopNames) {
    const samples = loops.filter((loop) => loop.loop === name);
    if (samples.length === 0) continue;
    const pollMs = (samples[0]?.pollSeconds ?? 0) * 1000;
    const lag = summarize(samples.map((loop) => loop.lagMs));
    const checks = summarize(samples.map((loop) => loop.checks));
    const check = summarize(samples.map((loop) => loop.checkMs));
    const met = lag.median <= pollMs / 2;
    rows.push([
      name,
      samples[0]?.waits ?? "",
      `${pollMs / 1000} s`,
      String(lag.runs),
      millis(lag.median, 0),
      `${lag.min.toFixed(0)}–${lag.max.toFixed(0)} ms`,
      millis(pollMs / 2, 0),
      met ? "yes" : "NO",
      millis(lag.median - check.median, 0),
      millis(check.median, 0),
      checks.median.toFixed(1),
      conditionOf[name],
    ]);
    targets.push({
      name: `${name} loop, median lag`,
      target: `≤ ${millis(pollMs / 2, 0)} (half of ${pollMs / 1000} s)`,
      actual: millis(lag.median, 0),
      met,
    });
  }
  const pooled = summarize(loops.map((loop) => loop.lagMs / (loop.pollSeconds * 1000)));
  rows.push([
    "all loops",
    "",
    "–",
    String(pooled.runs),
    `${(pooled.median * 100).toFixed(0)}% of interval`,
    `${(pooled.min * 100).toFixed(0)}–${(pooled.max * 100).toFixed(0)}%`,
    "50%",
    pooled.median <= 0.5 ? "yes" : "NO",
    "",
    "",
    "",
    "lag as a fraction of each loop's poll interval",
  ]);
  targets.push({
    name: "all loops, median lag / poll interval",
    target: "≤ 50%",
    actual: `${(pooled.median * 100).toFixed(0)}%`,
    met: pooled.median <= 0.5,
  });
  return {
    number: 2,
    id: "detection-lag",
    title: "Detection lag of the wait loops",
    method: `Every wait loop of the ${runs.observations.filter((observation) => observation.kind !== "first bake (empty group)").length} deployments of figure 1 and of the first bake to the empty group (its builder, image and canary loops); fresh bakes have four loops, cache hits two; median and min–max per loop. The condition's moment comes from the local cloud (the timescale's record of the operation's end, in the same tick as the state change; the canary's console for its service listening); the detection from GetExecutionHistory (the loop's ChoiceStateExited after the Watch or Check that saw it).`,
    tables: [
      {
        title: "Detection lag per wait loop",
        columns: [
          "loop",
          "woken by",
          "poll",
          "n",
          "median lag",
          "min–max",
          "½ poll",
          "met",
          "of it: waiting",
          "checking",
          "checks",
          "condition",
        ],
        rows,
      },
    ],
    targets,
    notes: [
      'Event loops (builder, image, refresh): the lag is the event\'s delivery to wake, its check and SendTaskSuccess ("waiting": until the Watch task resumed) plus the Choice ("checking"). Their poll interval is how long a Watch task waits for an event before checking by itself; the target still compares the lag with half of it.',
      `Canary (HTTP health has no event): the "running" state-change event ends the Watch on its boot; its check then probes the service every ${probeRetryMs} ms for up to one poll interval, and returns at the first 2xx answer. The lag is the rest of the probe pause under way when the service began to listen, the GET that found it, and the check's return and Choice; "waiting" is whatever of it came before the last Watch or Wait ended (an event's delivery, when the service listens before the watch resumes).`,
      runs.jitter > 0
        ? `AWS-like durations varied by up to ±${Math.round(runs.jitter * 100)}% per operation, so each condition falls at a random moment; the medians are over that spread.`
        : "The local cloud's durations were exact, so a loop's condition falls at the same moment in every run: the medians show that phase, not a spread.",
      "The canary's further probes (healthyThreshold − 1 intervals) are confirmation by design, not detection: figure 1 lists them separately.",
      ...negative.map(
        (loop) =>
          `${loop.loop}: a negative lag (${loop.lagMs} ms) means the two clocks disagree: treat that sample with care`,
      ),
    ],
    data: { loops },
  };
}
