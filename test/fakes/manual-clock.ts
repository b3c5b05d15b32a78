import type { Clock } from "../../core/ports.ts";

/** A clock that moves only when a test moves it. */
export class ManualClock implements Clock {
  private current: number;

  constructor(start = "2026-03-02T10:00:00.000Z") {
    this.current = Date.parse(start);
  }

  now(): Date {
    return new Date(this.current);
  }

  advance(ms: number): void {
    this.current += ms;
  }

  /** The current time plus `ms`, as an ISO string. */
  inMs(ms: number): string {
    return new Date(this.current + ms).toISOString();
  }
}
