/** HealthProbe over HTTP, as a load balancer's target group check would do it. */
import type { HealthProbe } from "../ports.ts";

export const httpHealthProbe: HealthProbe = {
  async check(url: string, timeoutMs: number) {
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
  },
};
