/**
 * The local cloud's timescale, also remembering when each AWS-like operation ended. Every
 * emulator reports an operation (`ec2:boot`, `ec2:stop`, `ec2:snapshot`, `autoscaling:refresh`,
 * …) through `record()` in the same tick as it changes the state a Describe call then shows, so
 * the moment recorded here is the moment the condition a wait loop polls for became true.
 *
 * With `jitter`, each operation takes its AWS-like duration × timescale × a uniform draw in
 * [1 − jitter, 1 + jitter], as AWS's own durations vary. Without it the emulators' durations are
 * exact to the millisecond, so every run meets each wait loop's condition at the same point of
 * its poll cycle, and a detection lag measures that one phase rather than polling.
 */
import { Timescale } from "../local/timescale.ts";

export interface OperationEvent {
  operation: string;
  /** Epoch ms at which the operation ended. */
  endedAt: number;
  /** How long it took, ms (as the timescale reports it). */
  ms: number;
  /** The resource it concerned (instance id, image id, group name), when the emulator said. */
  subject?: string | undefined;
}

/** A timescale that keeps every operation's end, optionally with varied durations. */
export class RecordingTimescale extends Timescale {
  readonly events: OperationEvent[] = [];

  constructor(
    factor: number,
    readonly jitter = 0,
  ) {
    super(factor);
    if (!(jitter >= 0 && jitter < 1)) throw new RangeError(`jitter must be in [0, 1), got ${jitter}`);
  }

  /** What an operation of `awsSeconds` takes here before any variation. */
  nominalMs(awsSeconds: number): number {
    return super.scaledMs(awsSeconds);
  }

  override scaledMs(awsSeconds: number): number {
    const exact = super.scaledMs(awsSeconds);
    return this.jitter === 0 ? exact : Math.round(exact * (1 + (Math.random() * 2 - 1) * this.jitter));
  }

  override record(operation: string, ms: number, subject?: string): void {
    super.record(operation, ms, subject);
    this.events.push({ operation, endedAt: Date.now(), ms, subject });
  }
}
