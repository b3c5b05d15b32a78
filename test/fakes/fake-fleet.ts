import type {
  Fleet,
  InstanceInfo,
  InstanceRole,
  InstanceState,
  LaunchBuilderRequest,
  LaunchCanaryRequest,
} from "../../core/ports.ts";

interface FakeInstance {
  info: InstanceInfo;
  deploymentId: string;
  role: InstanceRole;
  request: LaunchBuilderRequest | LaunchCanaryRequest;
}

const liveStates: ReadonlySet<InstanceState> = new Set(["pending", "running", "stopping", "stopped"]);

/** EC2 instances in memory: one launch per deployment and role, as the client token makes it. */
export class FakeFleet implements Fleet {
  private readonly instances = new Map<string, FakeInstance>();
  private readonly consoles = new Map<string, string>();
  private nextNumber = 1;
  /** Ids passed to terminate, in order. */
  readonly terminated: string[] = [];

  launchBuilder(request: LaunchBuilderRequest): Promise<InstanceInfo> {
    return this.launch("builder", request);
  }

  launchCanary(request: LaunchCanaryRequest): Promise<InstanceInfo> {
    return this.launch("canary", request);
  }

  async describe(instanceId: string): Promise<InstanceInfo | undefined> {
    const instance = this.instances.get(instanceId);
    return instance ? structuredClone(instance.info) : undefined;
  }

  async consoleOutput(instanceId: string): Promise<string> {
    return this.consoles.get(instanceId) ?? "";
  }

  async findForDeployment(deploymentId: string, role?: InstanceRole): Promise<InstanceInfo[]> {
    return [...this.instances.values()]
      .filter((instance) => instance.deploymentId === deploymentId && (!role || instance.role === role))
      .filter((instance) => liveStates.has(instance.info.state))
      .map((instance) => structuredClone(instance.info));
  }

  async terminate(instanceIds: string[]): Promise<void> {
    for (const id of instanceIds) {
      this.terminated.push(id);
      const instance = this.instances.get(id);
      if (instance) instance.info.state = "terminated";
    }
  }

  /** Puts an instance of a deployment in place, as if launched earlier. */
  add(deploymentId: string, role: InstanceRole, info: Partial<InstanceInfo> = {}): InstanceInfo {
    const instanceId = info.instanceId ?? this.newId();
    const instance: FakeInstance = {
      info: { instanceId, state: "running", ...info },
      deploymentId,
      role,
      request: { deploymentId } as LaunchCanaryRequest,
    };
    this.instances.set(instanceId, instance);
    return structuredClone(instance.info);
  }

  setState(instanceId: string, state: InstanceState, details: Partial<InstanceInfo> = {}): void {
    const instance = this.instances.get(instanceId);
    if (!instance) throw new Error(`no instance ${instanceId}`);
    Object.assign(instance.info, details, { state });
  }

  setConsole(instanceId: string, output: string): void {
    this.consoles.set(instanceId, output);
  }

  /** The launch request an instance was made from. */
  requestOf(instanceId: string): LaunchBuilderRequest | LaunchCanaryRequest | undefined {
    return this.instances.get(instanceId)?.request;
  }

  count(): number {
    return this.instances.size;
  }

  private async launch(
    role: InstanceRole,
    request: LaunchBuilderRequest | LaunchCanaryRequest,
  ): Promise<InstanceInfo> {
    const existing = [...this.instances.values()].find(
      (instance) => instance.deploymentId === request.deploymentId && instance.role === role,
    );
    if (existing) return structuredClone(existing.info);
    const instanceId = this.newId();
    this.instances.set(instanceId, {
      info: { instanceId, state: "pending" },
      deploymentId: request.deploymentId,
      role,
      request: structuredClone(request),
    });
    return { instanceId, state: "pending" };
  }

  private newId(): string {
    const id = `i-${String(this.nextNumber).padStart(17, "0")}`;
    this.nextNumber += 1;
    return id;
  }
}
