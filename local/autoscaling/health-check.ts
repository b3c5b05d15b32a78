/**
 * HTTP health checks. On AWS a group's instances are judged by its load balancer target
 * group; the local cloud has no load balancer, so the emulator probes each instance itself
 * at the port and path the group's `kiln:health-port` and `kiln:health-path` tags name.
 */
import { request } from "node:http";
import type { GroupTag } from "./state.ts";

export const healthPortTag = "kiln:health-port";
export const healthPathTag = "kiln:health-path";

/** Consecutive 2xx answers after which an instance is healthy (a target group's healthy threshold). */
export const healthyThreshold = 2;
/** Consecutive failures after which an instance past its grace period is unhealthy. */
export const unhealthyThreshold = 3;

const probeTimeoutMs = 2000;

export interface HealthTarget {
  port: number;
  path: string;
}

/** Where a group's instances answer their health check, from its tags (default 8080, /health). */
export function healthTargetOf(tags: GroupTag[]): HealthTarget {
  const portTag = tags.find((tag) => tag.key === healthPortTag)?.value;
  const pathTag = tags.find((tag) => tag.key === healthPathTag)?.value;
  const port = portTag !== undefined && /^\d+$/.test(portTag) ? Number(portTag) : 8080;
  const path = pathTag?.startsWith("/") ? pathTag : "/health";
  return { port, path };
}

export interface ProbeResult {
  ok: boolean;
  /** What the probe saw: `HTTP 200`, `HTTP 500`, `connect ECONNREFUSED …`, `timed out`. */
  detail: string;
}

/** Sends one health check; any 2xx answer passes. */
export function probeHealth(host: string, target: HealthTarget): Promise<ProbeResult> {
  return new Promise((resolve) => {
    // No keep-alive agent: a pooled socket to an instance that died would hide its death.
    const probe = request(
      { host, port: target.port, path: target.path, method: "GET", agent: false },
      (response) => {
        response.resume();
        const status = response.statusCode ?? 0;
        resolve({ ok: status >= 200 && status < 300, detail: `HTTP ${status}` });
      },
    );
    probe.setTimeout(probeTimeoutMs, () => {
      probe.destroy(new Error(`timed out after ${probeTimeoutMs} ms`));
    });
    probe.on("error", (error) => resolve({ ok: false, detail: error.message }));
    probe.end();
  });
}

interface Streak {
  successes: number;
  failures: number;
  lastDetail: string;
}

/** Counts consecutive probe results per instance, as a target group's thresholds do. */
export class HealthStreaks {
  private readonly streaks = new Map<string, Streak>();

  /** Records a probe result and returns the instance's streak after it. */
  record(instanceId: string, result: ProbeResult): Streak {
    const previous = this.streaks.get(instanceId) ?? { successes: 0, failures: 0, lastDetail: "" };
    const next = result.ok
      ? { successes: previous.successes + 1, failures: 0, lastDetail: result.detail }
      : { successes: 0, failures: previous.failures + 1, lastDetail: result.detail };
    this.streaks.set(instanceId, next);
    return next;
  }

  /** What the instance's last probe saw, if it was probed. */
  lastDetail(instanceId: string): string | undefined {
    return this.streaks.get(instanceId)?.lastDetail;
  }

  forget(instanceId: string): void {
    this.streaks.delete(instanceId);
  }
}
