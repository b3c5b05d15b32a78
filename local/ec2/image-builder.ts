/**
 * Making images: CreateImage copies the instance's root into `images/<ami-id>/root/` at once
 * (the snapshot's point in time), then the image stays `pending` for the snapshot delay before
 * it becomes `available`. A fault taken for `ec2:image` (subject: the image name) makes it end
 * `failed`. Also registers the base image every bake starts from.
 *
 * An image becoming available or failed is announced (`EC2 AMI State Change`) in the same tick
 * as DescribeImages shows it; so is its deregistration (deregisterImage in images.ts).
 */
import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { EmitEvent } from "../event-bus.ts";
import type { FaultInjector } from "../faults.ts";
import type { Timescale } from "../timescale.ts";
import { type AmiEventState, amiStateChangeEvent } from "./events.ts";
import { newId } from "./ids.ts";
import type { InstanceLifecycle } from "./instance-lifecycle.ts";
import type { Ec2Paths } from "./paths.ts";
import type { Image, Instance, StateStore } from "./state.ts";

export const BASE_IMAGE_NAME = "kiln-local-base";
const BASE_VOLUME_GIB = 8;

const OS_RELEASE = `NAME="Kiln Local Base"
PRETTY_NAME="Kiln local base image"
ID=kiln-local
VERSION_ID="1"
HOME_URL="https://github.com/kiln-deploy/kiln"
`;

export interface ImageBuilderDeps {
  store: StateStore;
  paths: Ec2Paths;
  lifecycle: InstanceLifecycle;
  timescale: Timescale;
  faults: FaultInjector;
  log: (line: string) => void;
  /** Receives each AMI state-change event; absent, nothing is emitted. */
  emitEvent?: EmitEvent;
}

export class ImageBuilder {
  private readonly tasks = new Set<Promise<void>>();
  private readonly abort = new AbortController();
  private baseImage: Promise<string> | undefined;

  constructor(private readonly deps: ImageBuilderDeps) {}

  private get closing(): boolean {
    return this.abort.signal.aborted;
  }

  /**
   * Announces the state an image has just entered; `requestId` is the request that led to it
   * (CreateImage for available and failed, DeregisterImage for deregistered).
   */
  announce(image: Image, state: AmiEventState, requestId = image.requestId ?? randomUUID()): void {
    const emit = this.deps.emitEvent;
    if (emit === undefined) return;
    const errorMessage = state === "failed" ? (image.stateReason?.message ?? "") : "";
    try {
      emit(amiStateChangeEvent(image.imageId, state, requestId, errorMessage));
    } catch (error) {
      this.deps.log(
        `ec2: emitting the ${state} event of ${image.imageId} failed: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }

  /** Finishes a registered `pending` image in the background. */
  build(image: Image, source: Instance | undefined, freeze: boolean): void {
    const task: Promise<void> = this.finish(image, source, freeze)
      .catch((error: unknown) => {
        this.deps.log(
          `ec2: image ${image.imageId} failed: ${error instanceof Error ? error.message : String(error)}`,
        );
        if (this.closing || this.deps.store.state.images[image.imageId] !== image) return;
        image.state = "failed";
        image.stateReason = {
          code: "Server.InternalError",
          message: "Server.InternalError: Internal error on snapshot",
        };
        this.settleSnapshots(image, "error");
        this.announce(image, "failed");
        void this.deps.store.save().catch(() => undefined);
      })
      .finally(() => this.tasks.delete(task));
    this.tasks.add(task);
  }

  private settleSnapshots(image: Image, state: "completed" | "error"): void {
    for (const device of image.blockDevices) {
      const snapshot = this.deps.store.state.snapshots[device.snapshotId];
      if (snapshot === undefined) continue;
      snapshot.state = state;
      snapshot.stateMessage = state === "error" ? image.stateReason?.message : undefined;
    }
  }

  private async finish(image: Image, source: Instance | undefined, freeze: boolean): Promise<void> {
    const fault = this.deps.faults.take("ec2:image", image.name);
    if (fault === undefined && !image.rootCopied) {
      if (source === undefined || !existsSync(this.deps.paths.instance(source.instanceId).root)) {
        throw new Error(`the disk of ${image.sourceInstanceId ?? "its instance"} is gone`);
      }
      await this.deps.lifecycle.copyRootOf(source, this.deps.paths.imageRoot(image.imageId), freeze);
      image.rootCopied = true;
      await this.deps.store.save();
    }
    await this.deps.timescale.delay("ec2:snapshot", 60, this.abort.signal, image.imageId);
    if (this.closing) return;
    if (this.deps.store.state.images[image.imageId] !== image) {
      // Deregistered while pending: nothing is left to keep.
      await rm(this.deps.paths.imageDir(image.imageId), { recursive: true, force: true });
      return;
    }
    if (fault === undefined) {
      image.state = "available";
      this.settleSnapshots(image, "completed");
      this.announce(image, "available");
    } else {
      image.state = "failed";
      image.stateReason = {
        code: fault.code ?? "Server.InternalError",
        message: fault.message ?? `${fault.code ?? "Server.InternalError"}: Internal error on snapshot`,
      };
      this.settleSnapshots(image, "error");
      this.announce(image, "failed");
      await rm(this.deps.paths.imageDir(image.imageId), { recursive: true, force: true });
    }
    await this.deps.store.save();
  }

  /** Finishes images the previous emulator left pending. */
  resume(): void {
    const { images, instances } = this.deps.store.state;
    for (const image of Object.values(images)) {
      if (image.state !== "pending") continue;
      const source = image.sourceInstanceId === undefined ? undefined : instances[image.sourceInstanceId];
      this.build(image, source, false);
    }
  }

  /** Registers the base image (once, by name) and returns its id. */
  ensureBaseImage(): Promise<string> {
    this.baseImage ??= this.registerBaseImage().finally(() => {
      this.baseImage = undefined;
    });
    return this.baseImage;
  }

  private async registerBaseImage(): Promise<string> {
    const { state } = this.deps.store;
    const existing = Object.values(state.images).find((image) => image.name === BASE_IMAGE_NAME);
    const imageId = existing?.imageId ?? newId("ami");
    const root = this.deps.paths.imageRoot(imageId);
    await mkdir(join(root, "etc/systemd/system"), { recursive: true });
    await writeFile(join(root, "etc/os-release"), OS_RELEASE);
    if (existing !== undefined) return existing.imageId;
    const snapshotId = newId("snap");
    const now = new Date().toISOString();
    state.snapshots[snapshotId] = {
      snapshotId,
      volumeId: "vol-ffffffff",
      volumeSize: BASE_VOLUME_GIB,
      encrypted: false,
      state: "completed",
      startTime: now,
      description: `Root volume of ${BASE_IMAGE_NAME}`,
      tags: [],
    };
    const image: Image = {
      imageId,
      name: BASE_IMAGE_NAME,
      description: "Kiln local base image: a minimal root; programs it lacks come from the host",
      state: "available",
      creationDate: now,
      tags: [],
      blockDevices: [
        {
          deviceName: "/dev/xvda",
          snapshotId,
          volumeSize: BASE_VOLUME_GIB,
          volumeType: "gp3",
          encrypted: false,
          deleteOnTermination: true,
        },
      ],
      rootCopied: true,
    };
    state.images[imageId] = image;
    // Registered available at once, as RegisterImage of a ready snapshot: announced like any image.
    this.announce(image, "available");
    await this.deps.store.save();
    this.deps.log(`ec2: registered the base image ${imageId} (${BASE_IMAGE_NAME})`);
    return imageId;
  }

  /** Stops background work; images still pending are finished by the next start. */
  async close(): Promise<void> {
    this.abort.abort();
    await Promise.allSettled([...this.tasks]);
  }
}
