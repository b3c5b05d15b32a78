/**
 * The local cloud's timescale, also remembering when each AWS-like operation ended. Every
 * emulator reports an operation (`ec2:boot`, `ec2:stop`, `ec2:snapshot`, `autoscaling:refresh`,
 * …) through `record()` in the same tick as it changes the state a Describe call then shows, so
 * the moment recorded here is the moment the condition a wait loop polls for became true.
 */
import { Timescale } from "../local/timescale.ts";

export interface OperationEvent {
  operation: string;
  /** Epoch ms at which the operation ended. */
  endedAt: number;
  /** How long it took, ms (as the timescale reports it). */
  ms: number;
}

export class RecordingTimescale extends Timescale {
  readonly events: OperationEvent[] = [];

  override record(operation: string, ms: number): void {
    super.record(operation, ms);
    this.events.push({ operation, endedAt: Date.now(), ms });
  }

  /** Operations that ended within [from, to]. */
  between(from: number, to: number): OperationEvent[] {
    return this.events.filter((event) => event.endedAt >= from && event.endedAt <= to);
  }
}
