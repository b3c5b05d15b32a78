/**
 * ServiceRegistry in memory, with DynamoServiceRegistry's conditions: the lock is taken when
 * free, re-taken by its holder, or taken over once its lease expired; the queue head is replaced
 * only by a newer request (ties broken by id); promotion needs a free or expired lock.
 */
import type { Clock, PinnedImage, ServiceRegistry, ServiceState } from "../../core/ports.ts";
import { type ServiceConfig, serviceConfigSchema } from "../../core/service-config.ts";

/** The state item as DynamoServiceRegistry stores it. */
export interface ServiceStateItem {
  activeDeploymentId?: string | undefined;
  leaseExpiresAt?: string | undefined;
  queuedDeploymentId?: string | undefined;
  queuedRequestedAt?: string | undefined;
  lastKnownGood?: PinnedImage | undefined;
  previousImage?: PinnedImage | undefined;
}

export class InMemoryServiceRegistry implements ServiceRegistry {
  private readonly configs = new Map<string, ServiceConfig>();
  private readonly states = new Map<string, ServiceStateItem>();

  constructor(private readonly clock: Clock) {}

  async getConfig(service: string): Promise<ServiceConfig | undefined> {
    const config = this.configs.get(service);
    return config ? structuredClone(config) : undefined;
  }

  async putConfig(config: ServiceConfig): Promise<void> {
    this.configs.set(config.name, serviceConfigSchema.parse(config));
  }

  async listConfigs(): Promise<ServiceConfig[]> {
    return [...this.configs.values()].map((config) => structuredClone(config));
  }

  async getState(service: string): Promise<ServiceState> {
    return { service, ...structuredClone(this.stateOf(service)) };
  }

  async acquireLock(
    service: string,
    deploymentId: string,
    leaseMs: number,
  ): Promise<ServiceState | undefined> {
    const state = this.stateOf(service);
    if (!this.lockIsFreeFor(state, deploymentId)) return undefined;
    state.activeDeploymentId = deploymentId;
    state.leaseExpiresAt = new Date(this.clock.now().getTime() + leaseMs).toISOString();
    return this.getState(service);
  }

  async enqueue(
    service: string,
    deploymentId: string,
    requestedAt: string,
  ): Promise<{ displaced?: string | undefined }> {
    const state = this.stateOf(service);
    const head = state.queuedDeploymentId;
    const headAt = state.queuedRequestedAt;
    const replaces =
      head === undefined ||
      head === deploymentId ||
      (headAt !== undefined && headAt < requestedAt) ||
      (headAt === requestedAt && head < deploymentId);
    if (!replaces) return { displaced: deploymentId };
    state.queuedDeploymentId = deploymentId;
    state.queuedRequestedAt = requestedAt;
    return { displaced: head !== undefined && head !== deploymentId ? head : undefined };
  }

  async promoteQueued(service: string, leaseMs: number): Promise<string | undefined> {
    const state = this.stateOf(service);
    const head = state.queuedDeploymentId;
    if (head === undefined || !this.lockIsFreeFor(state, head)) return undefined;
    state.activeDeploymentId = head;
    state.leaseExpiresAt = new Date(this.clock.now().getTime() + leaseMs).toISOString();
    delete state.queuedDeploymentId;
    delete state.queuedRequestedAt;
    return head;
  }

  async dequeue(service: string, deploymentId: string): Promise<boolean> {
    const state = this.stateOf(service);
    if (state.queuedDeploymentId !== deploymentId) return false;
    delete state.queuedDeploymentId;
    delete state.queuedRequestedAt;
    return true;
  }

  async releaseLock(service: string, deploymentId: string): Promise<void> {
    const state = this.stateOf(service);
    if (state.activeDeploymentId !== deploymentId) return;
    delete state.activeDeploymentId;
    delete state.leaseExpiresAt;
  }

  async pinLastKnownGood(service: string, image: PinnedImage): Promise<void> {
    const state = this.stateOf(service);
    if (state.lastKnownGood?.imageId === image.imageId) return;
    if (state.lastKnownGood) state.previousImage = state.lastKnownGood;
    state.lastKnownGood = structuredClone(image);
  }

  /** Writes a service's state item as it would be found in the table. */
  seedState(service: string, item: ServiceStateItem): void {
    this.states.set(service, structuredClone(item));
  }

  private stateOf(service: string): ServiceStateItem {
    let state = this.states.get(service);
    if (!state) {
      state = {};
      this.states.set(service, state);
    }
    return state;
  }

  private lockIsFreeFor(state: ServiceStateItem, deploymentId: string): boolean {
    const expired =
      state.leaseExpiresAt !== undefined && state.leaseExpiresAt < this.clock.now().toISOString();
    return state.activeDeploymentId === undefined || state.activeDeploymentId === deploymentId || expired;
  }
}
