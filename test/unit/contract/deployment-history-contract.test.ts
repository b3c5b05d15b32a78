import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Deployment } from "../../../core/deployment.ts";
import { DeploymentNotFoundError, InvalidTransitionError } from "../../../core/errors.ts";
import type { DeploymentHistory } from "../../../core/ports.ts";
import { ManualClock } from "../../fakes/manual-clock.ts";
import { aDeployment, aManifest, anExecutionInput } from "../../fakes/test-data.ts";
import { type Implementation, implementations } from "./port-implementations.ts";

const minute = 60_000;

describe.each(implementations)("DeploymentHistory contract, kept by %s", (_name, make) => {
  let implementation: Implementation;
  let clock: ManualClock;
  let history: DeploymentHistory;
  const input = anExecutionInput();
  const queued = aDeployment(input, { status: "QUEUED" });

  beforeAll(async () => {
    implementation = await make();
  });

  afterAll(async () => {
    await implementation.close();
  });

  beforeEach(async () => {
    clock = new ManualClock();
    history = (await implementation.create(clock)).history;
  });

  describe("create", () => {
    it("creates a record once and returns the existing one for the same id", async () => {
      expect((await history.create(queued)).created).toBe(true);

      const again = await history.create({ ...queued, status: "REJECTED" });

      expect(again.created).toBe(false);
      expect(again.deployment.status).toBe("QUEUED");
      expect(await history.get(queued.id)).toEqual(queued);
    });
  });

  describe("transition", () => {
    beforeEach(async () => {
      await history.create(queued);
    });

    it("moves along allowed transitions, appending each to the timeline with its note", async () => {
      await history.transition(queued.id, "PENDING", {}, "took the service's lock");
      clock.advance(minute);

      const moved = await history.transition(queued.id, "BAKING", { builderInstanceId: "i-1" });

      expect(moved).toMatchObject({
        status: "BAKING",
        builderInstanceId: "i-1",
        updatedAt: clock.now().toISOString(),
      });
      expect(moved.timeline).toEqual([
        ...queued.timeline,
        { status: "PENDING", at: clock.inMs(-minute), note: "took the service's lock" },
        { status: "BAKING", at: clock.now().toISOString() },
      ]);
      expect(moved.endedAt).toBeUndefined();
    });

    it("records when a terminal status ended the deployment", async () => {
      clock.advance(minute);

      const ended = await history.transition(queued.id, "SUPERSEDED", { supersededBy: "d-newer" });

      expect(ended).toMatchObject({
        status: "SUPERSEDED",
        supersededBy: "d-newer",
        endedAt: clock.now().toISOString(),
      });
    });

    it("re-entering the current status applies the changes without a second timeline entry", async () => {
      await history.transition(queued.id, "PENDING");

      const again = await history.transition(queued.id, "PENDING", { baseImageId: "ami-1" });

      expect(again.baseImageId).toBe("ami-1");
      expect(again.timeline.map((entry) => entry.status)).toEqual(["QUEUED", "PENDING"]);
    });

    it("refuses a move the current status does not allow, leaving the record as it was", async () => {
      await expect(history.transition(queued.id, "ROLLING")).rejects.toThrow(InvalidTransitionError);
      expect(await history.get(queued.id)).toEqual(queued);
    });

    it("refuses any move out of a terminal status", async () => {
      await history.transition(queued.id, "CANCELLED");

      await expect(history.transition(queued.id, "PENDING")).rejects.toThrow(InvalidTransitionError);
    });

    it("fails with DeploymentNotFoundError for an unknown deployment", async () => {
      await expect(history.transition("d-nosuchdeployment000000000", "PENDING")).rejects.toThrow(
        DeploymentNotFoundError,
      );
    });
  });

  describe("update", () => {
    it("applies the defined changes and fails for an unknown deployment", async () => {
      await history.create(queued);

      const updated = await history.update(queued.id, { refreshId: "refresh-1", imageId: undefined });

      expect(updated.refreshId).toBe("refresh-1");
      expect(updated.imageId).toBeUndefined();
      await expect(history.update("d-nosuchdeployment000000000", { refreshId: "r" })).rejects.toThrow(
        DeploymentNotFoundError,
      );
    });

    it("records whole steps in the same write, keeping a step already recorded", async () => {
      await history.create(queued);
      const earlier = { startedAt: clock.now().toISOString(), endedAt: clock.now().toISOString() };
      await history.update(queued.id, {}, { prepare: earlier });
      clock.advance(minute);
      const later = { startedAt: clock.now().toISOString(), endedAt: clock.now().toISOString() };
      const bake = { ...later, cached: true, note: "reused ami-1" };

      const updated = await history.update(queued.id, { imageId: "ami-1" }, { prepare: later, bake });

      expect(updated.imageId).toBe("ami-1");
      expect(updated.steps).toEqual({ prepare: earlier, bake });
      expect((await history.get(queued.id))?.steps).toEqual({ prepare: earlier, bake });
    });
  });

  describe("a status that begins a step", () => {
    it("starts the step as it is entered, once", async () => {
      await history.create(queued);
      await history.transition(queued.id, "PENDING");
      const startedAt = clock.now().toISOString();
      await history.transition(queued.id, "BAKING");
      clock.advance(minute);
      await history.transition(queued.id, "BAKING", { builderInstanceId: "i-1" });

      const recorded = await history.get(queued.id);
      expect(recorded?.steps).toEqual({ bake: { startedAt } });
      expect(recorded?.builderInstanceId).toBe("i-1");
    });
  });

  describe("markStep", () => {
    beforeEach(async () => {
      await history.create(queued);
    });

    it("keeps a step's first start and its first end", async () => {
      await history.markStep(queued.id, "bake", "start");
      const startedAt = clock.now().toISOString();
      clock.advance(minute);
      await history.markStep(queued.id, "bake", "start");
      await history.markStep(queued.id, "bake", "end");
      const endedAt = clock.now().toISOString();
      clock.advance(minute);
      await history.markStep(queued.id, "bake", "end");

      expect((await history.get(queued.id))?.steps.bake).toEqual({ startedAt, endedAt });
    });

    it("records start and end at once for a step that ends without a start, with its details", async () => {
      await history.markStep(queued.id, "bake", "end", { cached: true, note: "reused ami-1" });

      const now = clock.now().toISOString();
      expect((await history.get(queued.id))?.steps.bake).toEqual({
        startedAt: now,
        endedAt: now,
        cached: true,
        note: "reused ami-1",
      });
    });
  });

  describe("listing", () => {
    async function record(version: string, service = "hello-service"): Promise<Deployment> {
      const deployment = aDeployment(anExecutionInput({ manifest: aManifest({ service, version }) }), {
        requestedAt: clock.now().toISOString(),
      });
      await history.create(deployment);
      clock.advance(minute);
      return deployment;
    }

    it("lists a service's deployments newest first, page by page", async () => {
      const [first, second, third] = [await record("1.0.0"), await record("1.1.0"), await record("1.2.0")];
      await record("9.0.0", "other-service");

      const page1 = await history.listByService("hello-service", { limit: 2 });
      const page2 = await history.listByService("hello-service", { limit: 2, cursor: page1.cursor });

      expect(page1.items.map((item) => item.id)).toEqual([third?.id, second?.id]);
      expect(page2.items.map((item) => item.id)).toEqual([first?.id]);
      expect(page2.cursor).toBeUndefined();
    });

    it("lists recent deployments of every service newest first", async () => {
      const older = await record("1.0.0");
      const newer = await record("9.0.0", "other-service");

      const page = await history.listRecent({ limit: 10 });

      expect(page.items.map((item) => item.id)).toEqual([newer.id, older.id]);
    });
  });
});
