import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { ServiceRegistry } from "../../../core/ports.ts";
import { ManualClock } from "../../fakes/manual-clock.ts";
import { aServiceConfig } from "../../fakes/test-data.ts";
import { type Implementation, implementations } from "./port-implementations.ts";

const leaseMs = 60 * 60 * 1000;
const service = "hello-service";
const t1 = "2026-03-02T09:00:00.000Z";
const t2 = "2026-03-02T09:05:00.000Z";

describe.each(implementations)("ServiceRegistry contract, kept by %s", (_name, make) => {
  let implementation: Implementation;
  let clock: ManualClock;
  let registry: ServiceRegistry;

  beforeAll(async () => {
    implementation = await make();
  });

  afterAll(async () => {
    await implementation.close();
  });

  beforeEach(async () => {
    clock = new ManualClock();
    registry = (await implementation.create(clock)).services;
  });

  describe("acquireLock", () => {
    it("takes a free lock, lets its holder take it again and refuses it to anyone else", async () => {
      expect(await registry.acquireLock(service, "d-a", leaseMs)).toMatchObject({
        activeDeploymentId: "d-a",
      });
      expect(await registry.acquireLock(service, "d-a", leaseMs)).toMatchObject({
        activeDeploymentId: "d-a",
      });
      expect(await registry.acquireLock(service, "d-b", leaseMs)).toBeUndefined();
      expect((await registry.getState(service)).activeDeploymentId).toBe("d-a");
    });

    it("answers with the service's state as the lock was taken: the queue head with it", async () => {
      await registry.enqueue(service, "d-a", t1);
      const locked = await registry.acquireLock(service, "d-b", leaseMs);

      expect(locked).toEqual({ ...(await registry.getState(service)), service });
      expect(locked).toMatchObject({ activeDeploymentId: "d-b", queuedDeploymentId: "d-a" });
    });

    it("hands the lock to another deployment once the holder's lease expired", async () => {
      await registry.acquireLock(service, "d-a", leaseMs);
      clock.advance(leaseMs + 1);

      expect(await registry.acquireLock(service, "d-b", leaseMs)).toMatchObject({
        activeDeploymentId: "d-b",
      });
      expect((await registry.getState(service)).activeDeploymentId).toBe("d-b");
    });

    it("keeps each service's lock apart", async () => {
      await registry.acquireLock(service, "d-a", leaseMs);

      expect(await registry.acquireLock("other-service", "d-b", leaseMs)).toMatchObject({
        service: "other-service",
        activeDeploymentId: "d-b",
      });
    });
  });

  describe("enqueue", () => {
    it("makes the first request the queue head, displacing nothing", async () => {
      expect(await registry.enqueue(service, "d-a", t1)).toEqual({ displaced: undefined });
      expect((await registry.getState(service)).queuedDeploymentId).toBe("d-a");
    });

    it("lets a newer request displace the head", async () => {
      await registry.enqueue(service, "d-a", t1);

      expect(await registry.enqueue(service, "d-b", t2)).toEqual({ displaced: "d-a" });
      expect((await registry.getState(service)).queuedDeploymentId).toBe("d-b");
    });

    it("reports an older request as displaced itself, leaving the head", async () => {
      await registry.enqueue(service, "d-b", t2);

      expect(await registry.enqueue(service, "d-a", t1)).toEqual({ displaced: "d-a" });
      expect((await registry.getState(service)).queuedDeploymentId).toBe("d-b");
    });

    it("displaces nothing when the head enqueues again", async () => {
      await registry.enqueue(service, "d-a", t1);

      expect(await registry.enqueue(service, "d-a", t1)).toEqual({ displaced: undefined });
    });

    it("breaks a tie in request time by id, the same way whichever arrives first", async () => {
      await registry.enqueue(service, "d-a", t1);

      expect(await registry.enqueue(service, "d-b", t1)).toEqual({ displaced: "d-a" });
      expect(await registry.enqueue(service, "d-a", t1)).toEqual({ displaced: "d-a" });
    });
  });

  describe("promoteQueued", () => {
    it("promotes nothing while the lock is held", async () => {
      await registry.acquireLock(service, "d-a", leaseMs);
      await registry.enqueue(service, "d-b", t2);

      expect(await registry.promoteQueued(service, leaseMs)).toBeUndefined();
      expect(await registry.getState(service)).toMatchObject({
        activeDeploymentId: "d-a",
        queuedDeploymentId: "d-b",
      });
    });

    it("moves the head into a free lock and empties the queue", async () => {
      await registry.enqueue(service, "d-b", t2);

      expect(await registry.promoteQueued(service, leaseMs)).toBe("d-b");
      const state = await registry.getState(service);
      expect(state.activeDeploymentId).toBe("d-b");
      expect(state.queuedDeploymentId).toBeUndefined();
    });

    it("moves the head into an expired lock", async () => {
      await registry.acquireLock(service, "d-a", leaseMs);
      await registry.enqueue(service, "d-b", t2);
      clock.advance(leaseMs + 1);

      expect(await registry.promoteQueued(service, leaseMs)).toBe("d-b");
    });

    it("promotes nothing from an empty queue", async () => {
      expect(await registry.promoteQueued(service, leaseMs)).toBeUndefined();
    });
  });

  describe("dequeue and releaseLock", () => {
    it("removes the head only when it is the deployment named", async () => {
      await registry.enqueue(service, "d-b", t2);

      expect(await registry.dequeue(service, "d-a")).toBe(false);
      expect(await registry.dequeue(service, "d-b")).toBe(true);
      expect((await registry.getState(service)).queuedDeploymentId).toBeUndefined();
    });

    it("releases the lock only for its holder", async () => {
      await registry.acquireLock(service, "d-a", leaseMs);

      await registry.releaseLock(service, "d-b");
      expect((await registry.getState(service)).activeDeploymentId).toBe("d-a");
      await registry.releaseLock(service, "d-a");
      const state = await registry.getState(service);
      expect(state.activeDeploymentId).toBeUndefined();
      expect(state.leaseExpiresAt).toBeUndefined();
    });
  });

  describe("pinLastKnownGood", () => {
    it("keeps the image it replaces as the previous image, and ignores pinning the same image twice", async () => {
      const first = { imageId: "ami-1", deploymentId: "d-a", pinnedAt: t1 };
      const second = { imageId: "ami-2", deploymentId: "d-b", launchTemplateVersion: "8", pinnedAt: t2 };

      await registry.pinLastKnownGood(service, first);
      await registry.pinLastKnownGood(service, second);
      await registry.pinLastKnownGood(service, second);

      expect(await registry.getState(service)).toMatchObject({ lastKnownGood: second, previousImage: first });
    });
  });

  describe("configs", () => {
    it("stores, reads and lists configs", async () => {
      await registry.putConfig(aServiceConfig());
      await registry.putConfig(aServiceConfig({ name: "other-service" }));

      expect(await registry.getConfig(service)).toEqual(aServiceConfig());
      expect(await registry.getConfig("missing-service")).toBeUndefined();
      expect((await registry.listConfigs()).map((config) => config.name).sort()).toEqual([
        "hello-service",
        "other-service",
      ]);
    });
  });
});
