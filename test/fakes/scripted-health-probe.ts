import type { HealthProbe } from "../../core/ports.ts";

interface ScriptedAnswer {
  healthy: boolean;
  attempts: number;
}

/** Answers probes from a script of verdicts, one per call, and records what it was asked. */
export class ScriptedHealthProbe implements HealthProbe {
  readonly calls: Array<{ url: string; timeoutMs: number; retryForMs: number }> = [];
  private readonly answers: ScriptedAnswer[] = [];

  /** Verdicts of the next calls, each at its first GET. */
  answer(...healthy: boolean[]): void {
    this.answers.push(...healthy.map((verdict) => ({ healthy: verdict, attempts: 1 })));
  }

  /** The next call's verdict: healthy at its `attempts`-th GET, after unhealthy ones. */
  answerHealthyAfter(attempts: number): void {
    this.answers.push({ healthy: true, attempts });
  }

  async check(url: string, options: { timeoutMs: number; retryForMs: number }) {
    this.calls.push({ url, ...options });
    const answer = this.answers.shift();
    if (answer === undefined) throw new Error(`the probe was not told how ${url} answers`);
    return { ...answer, detail: answer.healthy ? "answered 200" : "answered 503" };
  }
}
