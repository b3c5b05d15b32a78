/**
 * The local EventBridge Scheduler: invokes a function on a `rate(...)` schedule, as the stack's
 * CronV2 does on AWS, with the period scaled by the local cloud's timescale, and on demand.
 */
import type { Log } from "./endpoints.ts";
import type { Timescale } from "./timescale.ts";

export interface SchedulerOptions {
  /** What is scheduled, for log lines. */
  name: string;
  /** A rate expression: `rate(1 day)`, `rate(12 hours)`, `rate(5 minutes)`. */
  schedule: string;
  timescale: Timescale;
  /** Invokes the target; CronV2 passes its `event` (by default `{}`). */
  invoke: () => Promise<void>;
  log?: Log;
}

export interface LocalScheduler {
  /** The scaled period, or undefined when the timescale is instant (manual runs only). */
  periodMs: number | undefined;
  /** Runs the target now (and waits for it), as a one-off run would on AWS. */
  trigger(): Promise<void>;
  /** Stops the timer and waits for a run under way. */
  stop(): Promise<void>;
}

const unitSeconds: Record<string, number> = { minute: 60, hour: 3600, day: 86_400 };

/** The period of a rate expression in seconds; throws for anything else (cron is not supported). */
export function rateSeconds(schedule: string): number {
  const match = /^rate\((\d+) (minute|hour|day)(s?)\)$/.exec(schedule.trim());
  const value = Number(match?.[1]);
  const unit = match?.[2];
  if (match === null || unit === undefined || !Number.isInteger(value) || value < 1) {
    throw new Error(
      `unsupported schedule "${schedule}": the local scheduler runs rate(<n> minute|hour|day[s]) expressions`,
    );
  }
  const plural = match[3] === "s";
  if (plural === (value === 1)) {
    throw new Error(`invalid schedule "${schedule}": AWS wants rate(1 ${unit}) and rate(<n> ${unit}s)`);
  }
  return value * (unitSeconds[unit] ?? 0);
}

/** Starts a schedule; an instant timescale (factor 0) runs it only when triggered. */
export function startScheduler(options: SchedulerOptions): LocalScheduler {
  const log = options.log ?? (() => {});
  const period = options.timescale.scaledMs(rateSeconds(options.schedule));
  const periodMs = period > 0 ? period : undefined;
  let running: Promise<void> | undefined;
  let stopped = false;

  async function run(reason: string): Promise<void> {
    // Runs do not overlap: a tick that finds one under way joins it.
    if (running !== undefined) return running;
    log(`scheduler: ${options.name} (${reason})`);
    running = options.invoke().then(
      () => undefined,
      (error: unknown) =>
        log(`scheduler: ${options.name} failed: ${error instanceof Error ? error.message : String(error)}`),
    );
    try {
      await running;
    } finally {
      running = undefined;
    }
  }

  const timer = periodMs === undefined ? undefined : setInterval(() => void run(options.schedule), periodMs);
  // A schedule alone does not keep the process alive.
  timer?.unref();

  return {
    periodMs,
    trigger() {
      if (stopped) return Promise.reject(new Error(`scheduler ${options.name} is stopped`));
      return run("triggered");
    },
    async stop() {
      stopped = true;
      if (timer !== undefined) clearInterval(timer);
      await running;
    },
  };
}
