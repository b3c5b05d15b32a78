/** HealthProbe over HTTP, as a load balancer's target group check would do it. */
import { setTimeout as sleep } from "node:timers/promises";
import type { HealthProbe } from "../ports.ts";

/** The pause between GETs while the service does not answer 2xx yet. */
export const probeRetryMs = 100;

async function get(url: string, timeoutMs: number) {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: "manual" });
    await response.body?.cancel();
    return {
      healthy: response.status >= 200 && response.status < 300,
      detail: `answered ${response.status}`,
    };
  } catch (error) {
    const cause =
      error instanceof Error && error.cause instanceof Error ? error.cause.message : String(error);
    return { healthy: false, detail: `did not answer (${cause})` };
  }
}

export const httpHealthProbe: HealthProbe = {
  async check(url, { timeoutMs, retryForMs }) {
    const until = Date.now() + retryForMs;
    for (let attempts = 1; ; attempts++) {
      const answer = await get(url, timeoutMs);
      if (answer.healthy || Date.now() + probeRetryMs > until) return { ...answer, attempts };
      await sleep(probeRetryMs);
    }
  },
};
