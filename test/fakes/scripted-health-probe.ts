import type { HealthProbe } from "../../core/ports.ts";

/** Answers probes from a script of verdicts, one per call, and records what it was asked. */
export class ScriptedHealthProbe implements HealthProbe {
  readonly calls: Array<{ url: string; timeoutMs: number }> = [];

  constructor(private readonly answers: boolean[] = []) {}

  answer(...healthy: boolean[]): void {
    this.answers.push(...healthy);
  }

  async check(url: string, timeoutMs: number) {
    this.calls.push({ url, timeoutMs });
    const healthy = this.answers.shift();
    if (healthy === undefined) throw new Error(`the probe was not told how ${url} answers`);
    return { healthy, detail: healthy ? "answered 200" : "answered 503" };
  }
}
