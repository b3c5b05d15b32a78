import { beforeEach, describe, expect, it } from "vitest";
import type { Deployment } from "../../core/deployment.ts";
import { InvalidInputError } from "../../core/errors.ts";
import {
  admitDeployment,
  executionInputFor,
  releaseAndStartNext,
  startNextQueued,
} from "../../core/service-queue.ts";
import { type FakeKiln, fakeKiln, leaseMs } from "../fakes/fake-kiln.ts";
import { aDeployment, aManifest, anExecutionInput } from "../fakes/test-data.ts";

const minute = 60_000;

describe("service queue", () => {
  let kiln: FakeKiln;

  /** Records a QUEUED deployment of hello-service at `version`, requested now. */
  async function recordQueued(version: string): Promise<Deployment> {
    const input = anExecutionInput({ manifest: aManifest({ version }) });
    const at = kiln.clock.now().toISOString();
    const { deployment } = await kiln.history.create(
      aDeployment(input, {
        status: "QUEUED",
        requestedAt: at,
        updatedAt: at,
        timeline: [{ status: "QUEUED", at }],
      }),
    );
    kiln.clock.advance(minute);
    return deployment;
  }

  async function statusOf(id: string) {
    return (await kiln.history.get(id))?.status;
  }

  beforeEach(() => {
    kiln = fakeKiln();
  });

  describe("releaseAndStartNext", () => {
    it("hands the lock to the queued deployment and starts it", async () => {
      const running = await admitDeployment(kiln, await recordQueued("1.0.0"));
      const waiting = await admitDeployment(kiln, await recordQueued("1.1.0"));

      const next = await releaseAndStartNext(kiln, running);

      expect(next).toMatchObject({ id: waiting.id, status: "PENDING" });
      expect(await kiln.services.getState("hello-service")).toMatchObject({ activeDeploymentId: waiting.id });
      expect((await kiln.services.getState("hello-service")).queuedDeploymentId).toBeUndefined();
      expect(kiln.workflow.started()).toEqual([running.id, waiting.id]);
    });

    it("frees the lock and starts nothing when no deployment waits", async () => {
      const running = await admitDeployment(kiln, await recordQueued("1.0.0"));

      const next = await releaseAndStartNext(kiln, running);

      expect(next).toBeUndefined();
      expect((await kiln.services.getState("hello-service")).activeDeploymentId).toBeUndefined();
      expect(kiln.workflow.started()).toEqual([running.id]);
    });

    it("leaves the lock with its holder when another deployment releases it", async () => {
      const running = await admitDeployment(kiln, await recordQueued("1.0.0"));
      const waiting = await admitDeployment(kiln, await recordQueued("1.1.0"));

      const next = await releaseAndStartNext(kiln, waiting);

      expect(next).toBeUndefined();
      expect(await kiln.services.getState("hello-service")).toMatchObject({
        activeDeploymentId: running.id,
        queuedDeploymentId: waiting.id,
      });
    });

    it("is harmless when repeated: the second release starts nothing more", async () => {
      const running = await admitDeployment(kiln, await recordQueued("1.0.0"));
      await admitDeployment(kiln, await recordQueued("1.1.0"));
      await releaseAndStartNext(kiln, running);

      const again = await releaseAndStartNext(kiln, running);

      expect(again).toBeUndefined();
      expect(kiln.workflow.startCalls).toHaveLength(2);
    });
  });

  describe("startNextQueued", () => {
    it("does nothing while the lock is held", async () => {
      const running = await admitDeployment(kiln, await recordQueued("1.0.0"));
      const waiting = await admitDeployment(kiln, await recordQueued("1.1.0"));

      const next = await startNextQueued(kiln, "hello-service");

      expect(next).toBeUndefined();
      expect(await statusOf(waiting.id)).toBe("QUEUED");
      expect(kiln.workflow.started()).toEqual([running.id]);
    });

    it("passes over a queue head that was cancelled while it waited and frees the lock it was handed", async () => {
      const waiting = await recordQueued("1.1.0");
      kiln.services.seedState("hello-service", {
        queuedDeploymentId: waiting.id,
        queuedRequestedAt: waiting.requestedAt,
      });
      await kiln.history.transition(waiting.id, "CANCELLED");

      const next = await startNextQueued(kiln, "hello-service");

      expect(next).toBeUndefined();
      const state = await kiln.services.getState("hello-service");
      expect(state.activeDeploymentId).toBeUndefined();
      expect(state.queuedDeploymentId).toBeUndefined();
      expect(kiln.workflow.started()).toEqual([]);
    });

    it("keeps a promoted deployment that is already running without starting it again", async () => {
      const baking = await recordQueued("1.1.0");
      await kiln.history.transition(baking.id, "PENDING");
      await kiln.history.transition(baking.id, "BAKING");
      kiln.services.seedState("hello-service", {
        queuedDeploymentId: baking.id,
        queuedRequestedAt: baking.requestedAt,
      });

      const next = await startNextQueued(kiln, "hello-service");

      expect(next).toMatchObject({ id: baking.id, status: "BAKING" });
      expect((await kiln.services.getState("hello-service")).activeDeploymentId).toBe(baking.id);
      expect(kiln.workflow.startCalls).toEqual([]);
    });

    it("starts the queue head once the holder's lease has expired", async () => {
      const stuck = await admitDeployment(kiln, await recordQueued("1.0.0"));
      const waiting = await admitDeployment(kiln, await recordQueued("1.1.0"));
      kiln.clock.advance(leaseMs + minute);

      const next = await startNextQueued(kiln, "hello-service");

      expect(next).toMatchObject({ id: waiting.id, status: "PENDING" });
      expect(kiln.workflow.started()).toEqual([stuck.id, waiting.id]);
    });
  });

  describe("admitDeployment", () => {
    it("takes a free service's lock in one call to the registry when nothing waits", async () => {
      const calls: string[] = [];
      const counted = new Proxy(kiln.services, {
        get(target, name, receiver) {
          const value = Reflect.get(target, name, receiver);
          if (typeof value !== "function") return value;
          return (...args: unknown[]) => {
            calls.push(String(name));
            return value.apply(target, args);
          };
        },
      });

      const admitted = await admitDeployment({ ...kiln, services: counted }, await recordQueued("1.0.0"));

      expect(admitted.status).toBe("PENDING");
      expect(calls).toEqual(["acquireLock"]);
    });

    it("starts a deployment that finds its queue head already gone to it (re-admitted after a crash)", async () => {
      const queued = await recordQueued("1.0.0");
      kiln.services.seedState("hello-service", {
        queuedDeploymentId: queued.id,
        queuedRequestedAt: queued.requestedAt,
      });

      const admitted = await admitDeployment(kiln, queued);

      expect(admitted.status).toBe("PENDING");
      const state = await kiln.services.getState("hello-service");
      expect(state.activeDeploymentId).toBe(queued.id);
      expect(state.queuedDeploymentId).toBeUndefined();
    });

    it("starts a deployment that finds the lock released between its failed acquire and its enqueue", async () => {
      const running = await admitDeployment(kiln, await recordQueued("1.0.0"));
      const late = await recordQueued("1.1.0");
      const releasingServices = Object.assign(Object.create(kiln.services), {
        acquireLock: async (service: string, id: string, lease: number) => {
          const taken = await kiln.services.acquireLock(service, id, lease);
          await kiln.services.releaseLock(service, running.id);
          return taken;
        },
      });

      const admitted = await admitDeployment({ ...kiln, services: releasingServices }, late);

      expect(admitted.status).toBe("PENDING");
      expect(kiln.workflow.started()).toEqual([running.id, late.id]);
    });

    it("never lets an older waiting deployment run after a newer one that took an expired lock", async () => {
      const stuck = await admitDeployment(kiln, await recordQueued("1.0.0"));
      const older = await admitDeployment(kiln, await recordQueued("1.1.0"));
      kiln.clock.advance(leaseMs + minute);
      const newer = await admitDeployment(kiln, await recordQueued("1.2.0"));

      const next = await releaseAndStartNext(kiln, newer);

      expect(newer.status).toBe("PENDING");
      expect(next).toBeUndefined();
      expect(await kiln.history.get(older.id)).toMatchObject({
        status: "SUPERSEDED",
        supersededBy: newer.id,
      });
      expect(kiln.workflow.started()).toEqual([stuck.id, newer.id]);
    });
  });

  describe("executionInputFor", () => {
    it("rebuilds the workflow input from the deployment record", async () => {
      const input = anExecutionInput();

      expect(executionInputFor(aDeployment(input))).toEqual(input);
    });

    it("refuses a record without the artifact's digest, naming the deployment and the field", async () => {
      const input = anExecutionInput();
      const deployment = aDeployment(input, { artifact: { bucket: "b", key: "k" } });

      expect(() => executionInputFor(deployment)).toThrow(InvalidInputError);
      expect(() => executionInputFor(deployment)).toThrow(
        `invalid deployment ${input.deploymentId}: artifact.sha256:`,
      );
    });
  });
});
