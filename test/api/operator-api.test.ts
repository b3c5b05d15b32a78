/**
 * The operator API end to end: each route over HTTP on a local cloud, with the real api function,
 * its token check and the real workflow behind it — successes, malformed requests, unknown ids,
 * conflicts and credentials. Last, every answer received here is held to the OpenAPI document.
 */
import { cp, mkdtemp, readFile, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { Ajv2020 } from "ajv/dist/2020.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as z from "zod";
import { packDirectory } from "../../cli/artifact-packing.ts";
import { deploymentIdForObject } from "../../core/deployment-id.ts";
import {
  deploymentPageSchema,
  deploymentViewSchema,
  serviceImagesSchema,
  serviceInstancesSchema,
  serviceListSchema,
  serviceViewSchema,
  uploadTicketSchema,
} from "../../core/operations/views.ts";
import { pruneRunSchema } from "../../core/prune/prune-run.ts";
import { examplesDir, type KilnCloud, startKilnCloud } from "../support/kiln-cloud.ts";
import { type TestApi, testApi } from "./api-client.ts";

let kiln: KilnCloud;
let api: TestApi;
/** web's first release (bootstrapped through the bucket) and its second (through POST /uploads). */
let first: { id: string; imageId: string };
let second: { id: string; imageId: string; key: string };

beforeAll(async () => {
  kiln = await startKilnCloud();
  api = await testApi(kiln.cloud);
  const bootstrap = await kiln.bootstrap("web", "hello-service", "1.0.0", 1);
  first = { id: bootstrap.id, imageId: bootstrap.imageId ?? "" };
  await kiln.registerService("empty");
}, 180_000);

afterAll(async () => {
  await kiln?.stop();
});

/** hello-service whose install hook takes `seconds`, so its deployment stays in BAKING a while. */
async function slowService(seconds: number): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "kiln-slow-"));
  await cp(join(examplesDir, "hello-service"), dir, { recursive: true });
  const manifest = JSON.parse(await readFile(join(dir, "kiln.json"), "utf8"));
  await writeFile(join(dir, "kiln.json"), JSON.stringify({ ...manifest, install: `sleep ${seconds}` }));
  return dir;
}

describe("credentials", () => {
  it("refuses a data route without a token, with a wrong one and with another scheme", async () => {
    for (const options of [
      { token: null },
      { token: "not-the-token" },
      { authorization: `Basic ${api.token}` },
    ]) {
      const answer = await api.call("GET", "/services", options);
      expect(answer.status, JSON.stringify(options)).toBe(401);
      expect(answer.body).toMatchObject({ error: "Unauthorized" });
      expect(answer.headers.get("www-authenticate")).toContain("Bearer");
    }
  });

  it("answers the dashboard page and the OpenAPI document without one", async () => {
    const page = await api.call("GET", "/", { token: null });
    expect(page.status).toBe(200);
    expect(page.contentType).toContain("text/html");
    expect(String(page.body)).toContain("<title>Kiln");
    expect((await api.call("GET", "/openapi.json", { token: null })).status).toBe(200);
  });

  it("keeps the generated token in a file only its owner can read", async () => {
    const file = kiln.cloud.env.KILN_API_TOKEN_FILE ?? "";
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(api.token).toMatch(/^[A-Za-z0-9_-]{40,}$/);
  });
});

describe("routing", () => {
  it("answers 404 for a path no route serves and 405 for a method a path does not take", async () => {
    expect(await api.call("GET", "/nowhere")).toMatchObject({ status: 404, body: { error: "NotFound" } });
    const wrong = await api.call("DELETE", "/uploads");
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get("allow")).toBe("POST");
  });
});

describe("POST /uploads", () => {
  it("gives a short-lived URL whose upload starts the deployment", async () => {
    const answer = await api.call("POST", "/uploads", { body: { service: "web", version: "1.1.0" } });

    expect(answer.status).toBe(201);
    const ticket = uploadTicketSchema.parse(answer.body);
    expect(ticket).toMatchObject({ key: "artifacts/web/1.1.0.tgz", bucket: kiln.bucket, method: "PUT" });
    expect(Date.parse(ticket.expiresAt) - Date.now()).toBeLessThanOrEqual(300_000);

    const { body } = await packDirectory(join(examplesDir, "hello-service"), {
      service: "web",
      version: "1.1.0",
    });
    const put = await fetch(ticket.url, { method: "PUT", body });
    expect(put.status).toBe(200);
    const id = deploymentIdForObject({
      bucket: ticket.bucket,
      key: ticket.key,
      etag: put.headers.get("etag") ?? "",
    });
    const deployment = await kiln.waitFor(id);
    expect(deployment.status).toBe("SUCCEEDED");
    second = { id, imageId: deployment.imageId ?? "", key: ticket.key };
    expect(await kiln.answers("web")).toEqual(["hello from web 1.1.0"]);
  });

  it("names each malformed field", async () => {
    const answer = await api.call("POST", "/uploads", { body: { service: "Web!", version: "", extra: 1 } });
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ error: "InvalidRequest" });
    const fields = (answer.body as { issues: Array<{ field: string }> }).issues.map((issue) => issue.field);
    expect(fields).toEqual(expect.arrayContaining(["body.service", "body.version", "body"]));
  });

  it("rejects a body that is not JSON, and a missing body", async () => {
    const broken = await api.call("POST", "/uploads", { rawBody: "{service:" });
    expect(broken.status).toBe(400);
    expect(broken.body).toMatchObject({
      issues: [{ field: "body", message: expect.stringContaining("not valid JSON") }],
    });
    const missing = await api.call("POST", "/uploads");
    expect(missing.body).toMatchObject({ issues: [{ field: "body", message: "a JSON body is required" }] });
  });

  it("answers 404 for a service that is not registered", async () => {
    const answer = await api.call("POST", "/uploads", { body: { service: "ghost", version: "1.0.0" } });
    expect(answer).toMatchObject({ status: 404, body: { error: "UnknownService" } });
  });
});

describe("POST /deployments", () => {
  it("returns the deployment the upload already made for the same object (200, no second deployment)", async () => {
    const answer = await api.call("POST", "/deployments", { body: { service: "web", version: "1.1.0" } });
    expect(answer.status).toBe(200);
    expect(deploymentViewSchema.parse(answer.body)).toMatchObject({ id: second.id, status: "SUCCEEDED" });
  });

  it("starts a new deployment of the same artifact with an idempotency key (202), once per key", async () => {
    const answer = await api.call("POST", "/deployments", {
      body: { service: "web", key: second.key, idempotencyKey: "redeploy-1" },
    });
    expect(answer.status).toBe(202);
    const started = deploymentViewSchema.parse(answer.body);
    expect(started.id).not.toBe(second.id);
    expect(started.trigger).toEqual({ kind: "api", by: "local operator" });
    expect(["PENDING", "QUEUED"]).toContain(started.status);

    const again = await api.call("POST", "/deployments", {
      body: { service: "web", key: second.key, idempotencyKey: "redeploy-1" },
    });
    expect(again.status).toBe(200);
    expect(deploymentViewSchema.parse(again.body).id).toBe(started.id);

    const ended = await kiln.waitFor(started.id);
    expect(ended.status).toBe("SUCCEEDED");
    expect(ended.steps.bake?.cached).toBe(true);
  });

  it.each([
    [{ service: "web" }, "body.version"],
    [{ service: "web", version: "1.1.0", key: "artifacts/web/1.1.0.tgz" }, "body.version"],
    [{ service: "web", key: "artifacts/other/1.0.0.tgz" }, "key"],
    [{ service: "web", key: "uploads/web.tgz" }, "key"],
  ])("rejects %j naming %s", async (body, field) => {
    const answer = await api.call("POST", "/deployments", { body });
    expect(answer.status).toBe(400);
    expect(
      (answer.body as { issues: Array<{ field: string }> }).issues.map((issue) => issue.field),
    ).toContain(field);
  });

  it("answers 404 for an artifact that was never uploaded and for an unknown service", async () => {
    const missing = await api.call("POST", "/deployments", { body: { service: "web", version: "7.7.7" } });
    expect(missing.status).toBe(404);
    expect((missing.body as { message: string }).message).toContain("POST /uploads");
    const unknown = await api.call("POST", "/deployments", { body: { service: "ghost", version: "1.0.0" } });
    expect(unknown).toMatchObject({ status: 404, body: { error: "UnknownService" } });
  });

  it("answers 400 with the reason for an artifact Kiln rejected", async () => {
    const put = await kiln.s3.send(
      new PutObjectCommand({ Bucket: kiln.bucket, Key: "artifacts/web/9.9.9.tgz", Body: "not a tarball" }),
    );
    const id = deploymentIdForObject({ bucket: kiln.bucket, key: "artifacts/web/9.9.9.tgz", etag: put.ETag });
    expect((await kiln.waitFor(id)).status).toBe("REJECTED");

    const answer = await api.call("POST", "/deployments", { body: { service: "web", version: "9.9.9" } });
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ error: "ArtifactRejected", message: expect.stringContaining(id) });
  });
});

describe("GET /deployments and /deployments/{id}", () => {
  it("lists newest first in pages whose cursors cover every deployment exactly once", async () => {
    const all = deploymentPageSchema.parse((await api.call("GET", "/deployments?limit=100")).body).items;
    expect(all.length).toBeGreaterThanOrEqual(4);
    const times = all.map((deployment) => deployment.requestedAt);
    expect(times).toEqual([...times].sort().reverse());

    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const answer = await api.call("GET", `/deployments?limit=2${cursor ? `&cursor=${cursor}` : ""}`);
      const page = deploymentPageSchema.parse(answer.body);
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items.map((deployment) => deployment.id));
      cursor = page.cursor;
    } while (cursor);
    expect(seen).toEqual(all.map((deployment) => deployment.id));
  });

  it("filters by service and by statuses", async () => {
    const rejected = deploymentPageSchema.parse(
      (await api.call("GET", "/deployments?status=REJECTED,FAILED")).body,
    );
    expect(rejected.items.map((deployment) => deployment.status)).toEqual(["REJECTED"]);
    const web = deploymentPageSchema.parse(
      (await api.call("GET", "/deployments?service=web&status=SUCCEEDED")).body,
    );
    expect(web.items.length).toBeGreaterThanOrEqual(3);
    expect(new Set(web.items.map((deployment) => `${deployment.service} ${deployment.status}`))).toEqual(
      new Set(["web SUCCEEDED"]),
    );
    const alias = deploymentPageSchema.parse(
      (await api.call("GET", "/services/web/deployments?status=SUCCEEDED")).body,
    );
    expect(alias.items.map((deployment) => deployment.id)).toEqual(
      web.items.map((deployment) => deployment.id),
    );
  });

  it.each([
    ["/deployments?limit=0", "query.limit"],
    ["/deployments?limit=many", "query.limit"],
    ["/deployments?status=DONE", "query.status.0"],
    ["/deployments?service=Web", "query.service"],
    ["/deployments?cursor=not-a-cursor", "cursor"],
  ])("rejects %s naming %s", async (path, field) => {
    const answer = await api.call("GET", path);
    expect(answer.status).toBe(400);
    expect(
      (answer.body as { issues: Array<{ field: string }> }).issues.map((issue) => issue.field),
    ).toContain(field);
  });

  it("refuses a cursor from one service's listing in another's", async () => {
    const page = deploymentPageSchema.parse((await api.call("GET", "/deployments?service=web&limit=1")).body);
    const answer = await api.call("GET", `/deployments?service=empty&cursor=${page.cursor}`);
    expect(answer.status).toBe(400);
    expect((answer.body as { message: string }).message).toContain("another service");
  });

  it("shows one deployment with its step timeline", async () => {
    const answer = await api.call("GET", `/deployments/${second.id}`);
    expect(answer.status).toBe(200);
    const deployment = deploymentViewSchema.parse(answer.body);
    expect(deployment.stepTimeline.map((step) => [step.step, step.state])).toEqual([
      ["prepare", "succeeded"],
      ["bake", "succeeded"],
      ["canary", "succeeded"],
      ["roll", "succeeded"],
      ["finish", "succeeded"],
    ]);
    expect(deployment.stepTimeline.every((step) => step.durationMs !== undefined)).toBe(true);
    expect(deployment.durationMs).toBeGreaterThan(0);
  });

  it("answers 404 for an unknown id", async () => {
    const answer = await api.call("GET", "/deployments/d-000000000000000000000000");
    expect(answer).toMatchObject({ status: 404, body: { error: "DeploymentNotFound" } });
  });
});

describe("POST /deployments/{id}/cancel", () => {
  it("cancels a queued deployment at once and a running one by stopping its execution", async () => {
    await kiln.registerService("slow");
    const dir = await slowService(20);
    const running = await kiln.upload(dir, "1.0.0", "slow");
    await kiln.waitFor(running.deploymentId, (deployment) => deployment.status === "BAKING");
    const queued = await kiln.upload(dir, "1.0.1", "slow");
    await kiln.waitFor(queued.deploymentId, (deployment) => deployment.status === "QUEUED");

    const dequeued = await api.call("POST", `/deployments/${queued.deploymentId}/cancel`);
    expect(dequeued.status).toBe(200);
    expect(deploymentViewSchema.parse(dequeued.body)).toMatchObject({
      status: "CANCELLED",
      error: { name: "DeploymentCancelled", message: "cancelled by local operator" },
    });
    expect((await kiln.services.getState("slow")).queuedDeploymentId).toBeUndefined();
    expect((await kiln.history.get(running.deploymentId))?.status).toBe("BAKING");

    const stopping = await api.call("POST", `/deployments/${running.deploymentId}/cancel`);
    expect(stopping.status).toBe(202);
    const cancelled = await kiln.waitFor(running.deploymentId);
    expect(cancelled.status).toBe("CANCELLED");
    expect(cancelled.error?.step).toBe("bake");
    expect(await kiln.liveInstances({ "kiln:deployment-id": running.deploymentId })).toEqual([]);
    expect((await kiln.services.getState("slow")).activeDeploymentId).toBeUndefined();
  });

  it("answers 409 for a deployment that has ended and 404 for an unknown one", async () => {
    const ended = await api.call("POST", `/deployments/${first.id}/cancel`);
    expect(ended.status).toBe(409);
    expect((ended.body as { message: string }).message).toContain("already ended SUCCEEDED");
    const unknown = await api.call("POST", "/deployments/d-000000000000000000000000/cancel");
    expect(unknown.status).toBe(404);
  });
});

describe("services", () => {
  it("registers a service (201), replaces its config (200), and refuses a name that disagrees with the path", async () => {
    const group = await kiln.services.getConfig("empty");
    const body = {
      group: group?.group,
      baseImageId: kiln.cloud.baseImageId,
      notifications: { slack: false, emails: ["ops@example.com"] },
    };
    const created = await api.call("PUT", "/services/api-made", { body });
    expect(created.status).toBe(201);
    expect(serviceViewSchema.parse(created.body)).toMatchObject({
      name: "api-made",
      config: { notifications: { emails: ["ops@example.com"] } },
    });
    const replaced = await api.call("PUT", "/services/api-made", { body: { ...body, name: "api-made" } });
    expect(replaced.status).toBe(200);
    const mismatch = await api.call("PUT", "/services/api-made", { body: { ...body, name: "other" } });
    expect(mismatch).toMatchObject({ status: 400, body: { issues: [{ field: "body.name" }] } });
  });

  it("names each invalid field of a config, and refuses a group that does not exist", async () => {
    const invalid = await api.call("PUT", "/services/bad", {
      body: {
        group: { name: "bad", launchTemplateId: "template" },
        baseImageId: "ami-1",
        rollout: { minHealthyPercentage: 120 },
      },
    });
    expect(invalid.status).toBe(400);
    const fields = (invalid.body as { issues: Array<{ field: string }> }).issues.map((issue) => issue.field);
    expect(fields).toEqual(
      expect.arrayContaining([
        "body.group.launchTemplateId",
        "body.baseImageId",
        "body.rollout.minHealthyPercentage",
      ]),
    );
    const noGroup = await api.call("PUT", "/services/bad", {
      body: {
        group: { name: "no-such-group", launchTemplateId: "lt-0123456789abcdef0" },
        baseImageId: kiln.cloud.baseImageId,
      },
    });
    expect(noGroup.status).toBe(404);
    expect((noGroup.body as { message: string }).message).toContain("no-such-group");
  });

  it("lists services with their pins and latest deployment, and shows one", async () => {
    const list = serviceListSchema.parse((await api.call("GET", "/services")).body);
    expect(list.items.map((service) => service.name)).toEqual(["api-made", "empty", "slow", "web"]);
    const web = serviceViewSchema.parse((await api.call("GET", "/services/web")).body);
    expect(web.pins.lastKnownGood?.imageId).toBe(second.imageId);
    expect(web.pins.previousImage?.imageId).toBe(first.imageId);
    expect(web.lock.activeDeploymentId).toBeUndefined();
  });

  it("answers 404 for an unknown service and 400 for an invalid name", async () => {
    expect((await api.call("GET", "/services/ghost")).status).toBe(404);
    expect((await api.call("GET", "/services/ghost/images")).status).toBe(404);
    expect((await api.call("GET", "/services/ghost/instances")).status).toBe(404);
    expect(await api.call("GET", "/services/NOT_A_NAME")).toMatchObject({
      status: 400,
      body: { issues: [{ field: "params.name" }] },
    });
  });

  it("lists a service's images newest first with their pins", async () => {
    const view = serviceImagesSchema.parse((await api.call("GET", "/services/web/images")).body);
    expect(view.images.map((image) => [image.imageId, image.version, image.pins])).toEqual([
      [second.imageId, "1.1.0", ["last-known-good"]],
      [first.imageId, "1.0.0", ["previous-image"]],
    ]);
  });

  it("lists the group's instances with the version each runs", async () => {
    const view = serviceInstancesSchema.parse((await api.call("GET", "/services/web/instances")).body);
    expect(view.group).toMatchObject({ name: "web", desiredCapacity: 1 });
    expect(
      view.instances.map((instance) => [instance.version, instance.imageId, instance.lifecycleState]),
    ).toEqual([["1.1.0", second.imageId, "InService"]]);
  });
});

describe("POST /services/{name}/rollback", () => {
  it("refuses when there is nothing to roll back to, and names a bad target", async () => {
    expect(await api.call("POST", "/services/empty/rollback")).toMatchObject({
      status: 409,
      body: { error: "Conflict" },
    });
    expect((await api.call("POST", "/services/ghost/rollback")).status).toBe(404);
    const both = await api.call("POST", "/services/web/rollback", {
      body: { deploymentId: first.id, imageId: first.imageId },
    });
    expect(both.status).toBe(400);
    const foreign = await api.call("POST", "/services/slow/rollback", { body: { imageId: first.imageId } });
    expect(foreign).toMatchObject({ status: 400, body: { issues: [{ field: "imageId" }] } });
    const rejected = await api.call("POST", "/services/web/rollback", {
      body: {
        deploymentId: (await kiln.history.listByService("web", { limit: 10 })).items.find(
          (d) => d.status === "REJECTED",
        )?.id,
      },
    });
    expect(rejected.status).toBe(409);
    const unknown = await api.call("POST", "/services/web/rollback", {
      body: { deploymentId: "d-000000000000000000000000" },
    });
    expect(unknown.status).toBe(404);
  });

  it("rolls back to the previous image as a deployment of its own, through canary and roll, without a bake", async () => {
    const answer = await api.call("POST", "/services/web/rollback", {
      body: { idempotencyKey: "undo-1.1.0" },
    });

    expect(answer.status).toBe(202);
    const started = deploymentViewSchema.parse(answer.body);
    expect(started).toMatchObject({
      service: "web",
      version: "1.0.0",
      trigger: { kind: "rollback", by: "local operator" },
      rollbackTo: { imageId: first.imageId, deploymentId: first.id },
    });
    const again = await api.call("POST", "/services/web/rollback", {
      body: { idempotencyKey: "undo-1.1.0" },
    });
    expect(again.status).toBe(200);
    expect(deploymentViewSchema.parse(again.body).id).toBe(started.id);

    const ended = await kiln.waitFor(started.id);
    expect(ended.status).toBe("SUCCEEDED");
    expect(ended.imageId).toBe(first.imageId);
    expect(ended.steps.bake).toMatchObject({ cached: true, note: `rollback: reusing ${first.imageId}` });
    expect(ended.steps.canary?.endedAt).toBeDefined();
    expect(await kiln.answers("web")).toEqual(["hello from web 1.0.0"]);
    const state = await kiln.services.getState("web");
    expect(state.lastKnownGood?.imageId).toBe(first.imageId);
    expect(state.previousImage?.imageId).toBe(second.imageId);
  });
});

describe("POST /prune", () => {
  it("previews a prune without removing anything", async () => {
    const answer = await api.call("POST", "/prune", { body: { dryRun: true } });
    expect(answer.status).toBe(200);
    const run = pruneRunSchema.parse(answer.body);
    expect(run).toMatchObject({
      dryRun: true,
      outcome: "COMPLETED",
      trigger: { kind: "api", by: "local operator" },
    });
    expect(run.removals.every((removal) => removal.status === "planned")).toBe(true);
    const images = serviceImagesSchema.parse((await api.call("GET", "/services/web/images")).body);
    expect(images.images.map((image) => image.imageId)).toEqual([second.imageId, first.imageId]);
  });

  it("names a bad option and answers 404 for an unknown service", async () => {
    const invalid = await api.call("POST", "/prune", { body: { dryRun: "yes" } });
    expect(invalid).toMatchObject({ status: 400, body: { issues: [{ field: "body.dryRun" }] } });
    const unknown = await api.call("POST", "/prune", { body: { dryRun: true, service: "ghost" } });
    expect(unknown.status).toBe(404);
  });
});

describe("the OpenAPI document", () => {
  interface Document {
    paths: Record<
      string,
      Record<
        string,
        { responses: Record<string, { content?: Record<string, { schema: { $ref?: string } }> }> }
      >
    >;
    components: { schemas: Record<string, object> };
  }
  let document: Document;
  beforeAll(async () => {
    const answer = await api.call("GET", "/openapi.json", { token: null });
    document = answer.body as Document;
  });

  it("documents exactly the routes the router serves", async () => {
    const { router } = await import("../../functions/api.ts");
    const served = router.routes.map((route) => `${route.method} ${route.path}`).sort();
    const documented = Object.entries(document.paths)
      .flatMap(([path, operations]) =>
        Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`),
      )
      .sort();
    expect(documented).toEqual(served);
  });

  it("describes every answer the tests above received, and each JSON body matches its documented schema", () => {
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    // The two formats the schemas use, checked as zod checks them.
    ajv.addFormat("date-time", (value: string) => z.iso.datetime({ offset: true }).safeParse(value).success);
    ajv.addFormat("email", (value: string) => z.email().safeParse(value).success);
    ajv.addSchema({ $id: "https://kiln.invalid/openapi.json", components: document.components });
    const templates = Object.keys(document.paths).map((path) => ({
      path,
      pattern: new RegExp(`^${path.replace(/\{\w+\}/g, "[^/]+")}$`),
    }));
    const problems: string[] = [];
    const statusesSeen = new Set<string>();
    for (const answer of api.answers) {
      const template = templates.find((candidate) => candidate.pattern.test(answer.path));
      if (!template) continue; // the 404 for a path no route serves
      const operation = document.paths[template.path]?.[answer.method.toLowerCase()];
      if (!operation) continue; // the 405 for a method the path does not take
      const response = operation.responses[String(answer.status)];
      const where = `${answer.method} ${answer.path} → ${answer.status}`;
      if (!response) {
        problems.push(`${where} is not documented`);
        continue;
      }
      statusesSeen.add(`${answer.method} ${template.path} ${answer.status}`);
      const json = response.content?.["application/json"];
      if (!json) continue;
      const schema = json.schema.$ref
        ? { $ref: `https://kiln.invalid/openapi.json${json.schema.$ref}` }
        : json.schema;
      const valid = ajv.validate(schema, answer.body);
      if (!valid) problems.push(`${where}: ${ajv.errorsText(ajv.errors)}`);
    }
    expect(problems).toEqual([]);
    // Every operation's success answer was checked, not only its errors.
    for (const [path, operations] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        const successes = Object.keys(operation.responses).filter((status) => status.startsWith("2"));
        expect(
          successes.some((status) => statusesSeen.has(`${method.toUpperCase()} ${path} ${status}`)),
          `${method.toUpperCase()} ${path}`,
        ).toBe(true);
      }
    }
  });
});
