/**
 * AWS-like durations for the local cloud. Each emulated operation that takes time on AWS
 * (boot, snapshot, shutdown, refresh warm-up) waits `awsSeconds × factor`, and the time spent
 * is recorded per operation so benchmarks can report the floor a deployment cannot beat.
 */
export interface OperationTiming {
  operation: string;
  count: number;
  totalMs: number;
}

export class Timescale {
  private readonly spent = new Map<string, OperationTiming>();

  /** factor 0 is instant (tests); 0.05 turns a 60 s bake into 3 s (demo). */
  constructor(readonly factor: number) {
    if (!Number.isFinite(factor) || factor < 0) {
      throw new RangeError(`timescale factor must be a number ≥ 0, got ${factor}`);
    }
  }

  static instant(): Timescale {
    return new Timescale(0);
  }

  /** Milliseconds that an operation taking `awsSeconds` on AWS takes here. */
  scaledMs(awsSeconds: number): number {
    return Math.round(awsSeconds * 1000 * this.factor);
  }

  /**
   * Waits as long as the operation would take at this timescale and records it, with the
   * resource it concerns (an instance, an image, a group) when given.
   */
  async delay(operation: string, awsSeconds: number, signal?: AbortSignal, subject?: string): Promise<void> {
    const ms = this.scaledMs(awsSeconds);
    const started = performance.now();
    if (ms > 0) {
      await new Promise<void>((resolve) => {
        // The signal outlives many delays: each removes its listener when it ends.
        const onAbort = () => {
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        }, ms);
        signal?.addEventListener("abort", onAbort, { once: true });
      });
    }
    this.record(operation, performance.now() - started, subject);
  }

  /** Records time spent on an operation measured elsewhere (a health check, a process start). */
  record(operation: string, ms: number, _subject?: string): void {
    const entry = this.spent.get(operation) ?? { operation, count: 0, totalMs: 0 };
    entry.count += 1;
    entry.totalMs += ms;
    this.spent.set(operation, entry);
  }

  /** Time spent per operation since start (or the last reset). */
  report(): OperationTiming[] {
    return [...this.spent.values()].map((entry) => ({ ...entry }));
  }

  reset(): void {
    this.spent.clear();
  }
}
