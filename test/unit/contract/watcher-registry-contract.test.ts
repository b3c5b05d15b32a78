import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Watcher, WatcherRegistry } from "../../../core/ports.ts";
import { ManualClock } from "../../fakes/manual-clock.ts";
import { type Implementation, implementations } from "./port-implementations.ts";

const resource = "instance:i-0123456789abcdef0";
const watcher = (taskToken: string): Watcher => ({
  taskToken,
  kind: "builder",
  state: { deploymentId: "d-1", builder: { instanceId: "i-0123456789abcdef0" }, nested: [1, "two", null] },
  expiresAt: new Date("2026-03-03T09:00:00.000Z"),
});

describe.each(implementations)("WatcherRegistry contract, kept by %s", (_name, make) => {
  let implementation: Implementation;
  let registry: WatcherRegistry;

  beforeAll(async () => {
    implementation = await make();
  });

  afterAll(async () => {
    await implementation.close();
  });

  beforeEach(async () => {
    registry = (await implementation.create(new ManualClock())).watchers;
  });

  it("gives back the watcher registered on a resource, state and expiry included", async () => {
    await registry.put(resource, watcher("token-1"));

    expect(await registry.get(resource)).toEqual(watcher("token-1"));
    expect(await registry.get("instance:i-other")).toBeUndefined();
  });

  it("replaces an earlier watcher of the same resource", async () => {
    await registry.put(resource, watcher("token-1"));
    await registry.put(resource, watcher("token-2"));

    expect((await registry.get(resource))?.taskToken).toBe("token-2");
  });

  it("lets exactly one claim of the current token succeed, and none of a replaced one", async () => {
    await registry.put(resource, watcher("token-1"));
    await registry.put(resource, watcher("token-2"));

    expect(await registry.claim(resource, "token-1")).toBe(false);
    const claims = await Promise.all([
      registry.claim(resource, "token-2"),
      registry.claim(resource, "token-2"),
    ]);

    expect(claims.filter(Boolean)).toHaveLength(1);
    expect(await registry.get(resource)).toBeUndefined();
    expect(await registry.claim("instance:i-never-watched", "token-2")).toBe(false);
  });
});
