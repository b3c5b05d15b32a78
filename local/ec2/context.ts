/** What every action handler works with. */
import type { FaultInjector } from "../faults.ts";
import type { Timescale } from "../timescale.ts";
import type { ImageBuilder } from "./image-builder.ts";
import type { InstanceLifecycle } from "./instance-lifecycle.ts";
import type { Ec2Paths } from "./paths.ts";
import type { QueryTree } from "./query-params.ts";
import type { Ec2State, StateStore } from "./state.ts";
import type { XmlObject } from "./xml.ts";

/** The one account the emulator serves; `self` in owner filters means it. */
export const ACCOUNT_ID = "000000000000";

/** The architecture AWS would name for this machine. */
export function hostArchitecture(): string {
  return process.arch === "arm64" ? "arm64" : "x86_64";
}

export interface Ec2Context {
  store: StateStore;
  state: Ec2State;
  paths: Ec2Paths;
  lifecycle: InstanceLifecycle;
  images: ImageBuilder;
  timescale: Timescale;
  faults: FaultInjector;
  log: (line: string) => void;
  /** The region the caller signed for (from its Authorization header), for zones and ARNs. */
  region: string;
  /** Where this emulator starts allocating private addresses (see ip-allocator.ts). */
  firstPrivateAddress: number;
  /** This request's id, as its response names it (events caused by the request carry it too). */
  requestId: string;
}

/** One EC2 action: parses its parameters, acts, and returns the body of its response. */
export type ActionHandler = (context: Ec2Context, params: QueryTree) => Promise<XmlObject>;
