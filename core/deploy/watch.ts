/**
 * Event-driven waits. A deploy workflow waiting on a slow AWS operation (its builder stopping,
 * its image becoming available, its canary booting, its instance refresh or rollback ending)
 * pauses on a task token: `watch` registers the token against the resource, and `wake` —
 * invoked by the EventBridge rules in workflows/event-rules.ts when AWS reports a change — runs
 * the same check the polling path runs and hands the workflow its verdict once the wait is over.
 *
 * No wake-up is lost to a race: `watch` registers first and checks second, so a change that
 * happened before the registration is seen by its own check, and one after it by `wake`. Both
 * may find the wait over; the registry's conditional `claim` lets exactly one of them answer.
 * Events are best effort, so the workflow also checks by itself when the task times out (the
 * service's poll interval), and a missed event costs at most one interval, as polling did.
 */
import * as z from "zod";
import type { Clock, TaskCallbacks, WatcherRegistry } from "../ports.ts";
import { type BakeDeps, checkBuilder, checkImage } from "./bake.ts";
import { checkCanaryBoot } from "./canary.ts";
import { checkRefresh, type RollDeps } from "./roll.ts";
import { type DeployState, deployStateSchema, requireKeys } from "./state.ts";

export const watchKinds = ["builder", "image", "canary", "refresh", "rollback"] as const;
export type WatchKind = (typeof watchKinds)[number];

export const watchInputSchema = z.object({
  kind: z.enum(watchKinds),
  taskToken: z.string().min(1),
  state: deployStateSchema,
});
export type WatchInput = z.infer<typeof watchInputSchema>;

export type WatchDeps = Pick<BakeDeps, "fleet" | "images" | "history"> &
  Pick<RollDeps, "groups"> & {
    watchers: WatcherRegistry;
    callbacks: TaskCallbacks;
    clock: Clock;
  };

/** How long a watcher is kept: far longer than any wait, which the deploy timeout bounds. */
const watcherLifetimeMs = 24 * 60 * 60 * 1000;

/** The statuses that mean the operation is still under way: the workflow keeps waiting. */
const underWay = new Set(["RUNNING", "ROLLING_BACK", "BOOTING"]);

/** The resource a wait is about, named as the events about it name it (see resourceOfEvent). */
export function watchedResource(kind: WatchKind, raw: DeployState): string {
  switch (kind) {
    case "builder":
      return `instance:${requireKeys(raw, "builder").builder.instanceId}`;
    case "image":
      return `image:${requireKeys(raw, "image").image.imageId}`;
    case "canary":
      return `instance:${requireKeys(raw, "canary").canary.instanceId}`;
    case "refresh":
      return `refresh:${requireKeys(raw, "refresh").refresh.refreshId}`;
    case "rollback": {
      const state = requireKeys(raw, "refresh");
      return `refresh:${state.rollback?.refreshId ?? state.refresh.refreshId}`;
    }
  }
}

/** A check's verdict: the workflow's Choice reads `status`; the rest travels with it. */
type Verdict = { status: string };

/** The check that decides a wait of this kind: the same one the workflow's Check states run. */
function check(deps: WatchDeps, kind: WatchKind, state: DeployState): Promise<Verdict> {
  switch (kind) {
    case "builder":
      return checkBuilder(deps, state);
    case "image":
      return checkImage(deps, state);
    case "canary":
      return checkCanaryBoot(deps, state);
    case "refresh":
    case "rollback":
      return checkRefresh(deps, state);
  }
}

export interface WatchOutcome {
  resource: string;
  status: string;
  /** Whether this call resumed the workflow. */
  resumed: boolean;
}

/** Registers the workflow's wait, then checks at once: the operation may be over already. */
export async function watch(deps: WatchDeps, input: WatchInput): Promise<WatchOutcome> {
  const resource = watchedResource(input.kind, input.state);
  await deps.watchers.put(resource, {
    taskToken: input.taskToken,
    kind: input.kind,
    state: input.state,
    expiresAt: new Date(deps.clock.now().getTime() + watcherLifetimeMs),
  });
  const verdict = await check(deps, input.kind, input.state);
  const resumed = await resumeIfOver(deps, resource, input.taskToken, verdict);
  return { resource, status: verdict.status, resumed };
}

/** What an AWS event is about, in watchedResource's terms; undefined for any other event. */
export function resourceOfEvent(event: unknown): string | undefined {
  const parsed = awsEventSchema.safeParse(event);
  if (!parsed.success) return undefined;
  const { source, "detail-type": detailType, detail } = parsed.data;
  const resource = (kind: string, key: string) => {
    const id = detail[key];
    return typeof id === "string" && id !== "" ? `${kind}:${id}` : undefined;
  };
  if (source === "aws.ec2" && detailType === "EC2 Instance State-change Notification")
    return resource("instance", "instance-id");
  if (source === "aws.ec2" && detailType === "EC2 AMI State Change") return resource("image", "ImageId");
  if (source === "aws.autoscaling" && detailType.startsWith("EC2 Auto Scaling Instance Refresh"))
    return resource("refresh", "InstanceRefreshId");
  return undefined;
}

export const awsEventSchema = z.looseObject({
  source: z.string(),
  "detail-type": z.string(),
  detail: z.record(z.string(), z.unknown()),
});

export type WakeOutcome =
  | { resource: undefined; reason: string }
  | { resource: string; watched: false }
  | (WatchOutcome & { watched: true });

/** An AWS event about a resource: if a workflow waits on it, check whether the wait is over. */
export async function wake(deps: WatchDeps, event: unknown): Promise<WakeOutcome> {
  const resource = resourceOfEvent(event);
  if (resource === undefined) return { resource, reason: "not an event about an instance, image or refresh" };
  const watcher = await deps.watchers.get(resource);
  if (!watcher) return { resource, watched: false };
  const kind = z.enum(watchKinds).parse(watcher.kind);
  const state = deployStateSchema.parse(watcher.state);
  const verdict = await check(deps, kind, state);
  const resumed = await resumeIfOver(deps, resource, watcher.taskToken, verdict);
  return { resource, watched: true, status: verdict.status, resumed };
}

/** Hands the workflow the verdict when the wait is over; exactly one caller gets to. */
async function resumeIfOver(
  deps: WatchDeps,
  resource: string,
  taskToken: string,
  verdict: Verdict,
): Promise<boolean> {
  if (underWay.has(verdict.status)) return false;
  if (!(await deps.watchers.claim(resource, taskToken))) return false;
  return deps.callbacks.succeed(taskToken, verdict);
}
