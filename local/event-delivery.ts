/**
 * Asynchronous, at-least-once event delivery, as AWS delivers S3 notifications and EventBridge
 * events to Lambda: the producer does not wait, a failed delivery is retried a few times, and a
 * delivery that keeps failing is logged and dropped — it never takes the producing server down.
 */
import type { Log } from "./endpoints.ts";

export interface EventDeliveryOptions {
  /** What is delivered, for log lines ("s3 ObjectCreated:Put kiln-artifacts/…"). */
  log: Log;
  /** Attempts in all; Lambda's asynchronous invocation makes 3 (the first and two retries). */
  attempts?: number;
  /** Pause before a retry; AWS waits about a minute, then two; locally a short pause will do. */
  retryDelayMs?: number;
}

export class EventDelivery {
  private readonly pending = new Set<Promise<void>>();
  private readonly attempts: number;
  private readonly retryDelayMs: number;
  private closed = false;

  constructor(private readonly options: EventDeliveryOptions) {
    this.attempts = options.attempts ?? 3;
    this.retryDelayMs = options.retryDelayMs ?? 200;
  }

  /** Delivers in the background: returns at once, like an asynchronous invocation. */
  deliver(description: string, send: () => Promise<void>): void {
    if (this.closed) {
      this.options.log(`dropped ${description}: delivery is closed`);
      return;
    }
    const delivery = this.run(description, send).finally(() => this.pending.delete(delivery));
    this.pending.add(delivery);
  }

  /** Resolves once every delivery started so far (and any it caused) has finished. */
  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  /** Stops accepting deliveries and waits for those under way. */
  async close(): Promise<void> {
    this.closed = true;
    await this.settled();
  }

  private async run(description: string, send: () => Promise<void>): Promise<void> {
    // A macrotask hop, so the producer's response goes out before the consumer runs.
    await new Promise((resolve) => setImmediate(resolve));
    for (let attempt = 1; attempt <= this.attempts; attempt += 1) {
      try {
        await send();
        return;
      } catch (error) {
        const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
        const last = attempt === this.attempts;
        this.options.log(
          `delivery of ${description} failed (attempt ${attempt}/${this.attempts}): ${reason}${last ? " — dropped" : ""}`,
        );
        if (!last && !this.closed)
          await new Promise((resolve) => setTimeout(resolve, this.retryDelayMs * attempt));
        if (this.closed) return;
      }
    }
  }
}
