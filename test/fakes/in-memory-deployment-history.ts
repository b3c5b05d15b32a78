/**
 * DeploymentHistory in memory, with DynamoDeploymentHistory's rules: records parsed with the
 * deployment schema on the way in and out, moves allowed only from `statusesAllowedBefore`,
 * re-entering a status applies its changes without a timeline entry, a step starts once (on its
 * own, with the status that begins it, or written whole by an update).
 */
import {
  type Deployment,
  type DeploymentChanges,
  type DeploymentStatus,
  deploymentSchema,
  type StepName,
  type StepRecord,
  statusesAllowedBefore,
  stepStartedBy,
  terminalStatuses,
} from "../../core/deployment.ts";
import { DeploymentNotFoundError, InvalidTransitionError } from "../../core/errors.ts";
import type { Clock, DeploymentHistory, Page } from "../../core/ports.ts";

function definedOnly<T extends object>(changes: T): Partial<T> {
  return Object.fromEntries(Object.entries(changes).filter(([, value]) => value !== undefined)) as Partial<T>;
}

export class InMemoryDeploymentHistory implements DeploymentHistory {
  private readonly records = new Map<string, Deployment>();

  constructor(private readonly clock: Clock) {}

  async create(deployment: Deployment): Promise<{ created: boolean; deployment: Deployment }> {
    const parsed = deploymentSchema.parse(deployment);
    const existing = this.records.get(parsed.id);
    if (existing) return { created: false, deployment: structuredClone(existing) };
    this.records.set(parsed.id, structuredClone(parsed));
    return { created: true, deployment };
  }

  async get(id: string): Promise<Deployment | undefined> {
    const record = this.records.get(id);
    return record ? deploymentSchema.parse(structuredClone(record)) : undefined;
  }

  async transition(
    id: string,
    status: DeploymentStatus,
    changes: DeploymentChanges = {},
    note?: string,
  ): Promise<Deployment> {
    const current = this.require(id);
    const from = statusesAllowedBefore(status).filter((candidate) => candidate !== status);
    if (!from.includes(current.status)) {
      if (current.status === status) return this.update(id, changes);
      throw new InvalidTransitionError(`deployment ${id} cannot move from ${current.status} to ${status}`);
    }
    const now = this.clock.now().toISOString();
    Object.assign(current, definedOnly(changes), {
      status,
      updatedAt: now,
      ...(terminalStatuses.has(status) ? { endedAt: now } : {}),
    });
    current.timeline.push({ status, at: now, ...(note ? { note } : {}) });
    const step = stepStartedBy[status];
    if (step) current.steps[step] ??= { startedAt: now };
    return structuredClone(current);
  }

  async update(
    id: string,
    changes: DeploymentChanges,
    steps: Partial<Record<StepName, StepRecord>> = {},
  ): Promise<Deployment> {
    const current = this.require(id);
    Object.assign(current, definedOnly(changes), { updatedAt: this.clock.now().toISOString() });
    for (const [step, record] of Object.entries(steps) as Array<[StepName, StepRecord | undefined]>)
      if (record) current.steps[step] ??= structuredClone(record);
    return structuredClone(current);
  }

  async markStep(
    id: string,
    step: StepName,
    phase: "start" | "end",
    details: { cached?: boolean; note?: string } = {},
  ): Promise<void> {
    const current = this.require(id);
    const now = this.clock.now().toISOString();
    const record = current.steps[step];
    if (phase === "start") {
      current.steps[step] ??= { startedAt: now, ...details };
      return;
    }
    if (!record) {
      current.steps[step] = { startedAt: now, ...details, endedAt: now };
      return;
    }
    Object.assign(record, definedOnly(details));
    record.endedAt ??= now;
  }

  async listByService(
    service: string,
    options: { limit: number; cursor?: string | undefined },
  ): Promise<Page<Deployment>> {
    return this.page(
      [...this.records.values()].filter((record) => record.service === service),
      options,
    );
  }

  async listRecent(options: { limit: number; cursor?: string | undefined }): Promise<Page<Deployment>> {
    return this.page([...this.records.values()], options);
  }

  /** Every record, oldest request first. */
  all(): Deployment[] {
    return [...this.records.values()]
      .sort((a, b) => a.requestedAt.localeCompare(b.requestedAt))
      .map((record) => structuredClone(record));
  }

  private require(id: string): Deployment {
    const record = this.records.get(id);
    if (!record) throw new DeploymentNotFoundError(`deployment ${id} does not exist`);
    return record;
  }

  private page(
    records: Deployment[],
    options: { limit: number; cursor?: string | undefined },
  ): Page<Deployment> {
    const sorted = records.sort((a, b) =>
      `${b.requestedAt}#${b.id}`.localeCompare(`${a.requestedAt}#${a.id}`),
    );
    const start = options.cursor ? Number(options.cursor) : 0;
    const items = sorted.slice(start, start + options.limit).map((record) => structuredClone(record));
    const next = start + options.limit;
    return { items, cursor: next < sorted.length ? String(next) : undefined };
  }
}
