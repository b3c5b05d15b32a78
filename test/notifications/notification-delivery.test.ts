/**
 * A Slack webhook that fails: the notifier retries what another attempt may fix, gives up at once
 * on what it cannot, logs the failure without the secret address, and never throws — and a
 * deployment whose every Slack message fails still succeeds, its email still sent.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ChannelNotifier } from "../../core/aws/channel-notifier.ts";
import type { Notification } from "../../core/ports.ts";
import { listOutbox } from "../../local/notification-sinks/index.ts";
import { type KilnCloud, startKilnCloud } from "../support/kiln-cloud.ts";

const notification: Notification = {
  kind: "SUCCEEDED",
  service: "web",
  title: "web 1.4.0 deployed",
  fields: [{ label: "Service", value: "web" }],
  emails: [],
  slack: true,
};

/** A webhook answering each POST with the next of `answers` (then the last one again), counting them. */
async function webhook(answers: Array<{ status: number; headers?: Record<string, string> }>) {
  let posts = 0;
  const server: Server = createServer((request: IncomingMessage, response: ServerResponse) => {
    request.resume();
    request.on("end", () => {
      const answer = answers[Math.min(posts, answers.length - 1)] ?? { status: 200 };
      posts += 1;
      response.writeHead(answer.status, answer.headers).end(answer.status === 200 ? "ok" : "no_service");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/services/T0/B0/secret-part`,
    posts: () => posts,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

describe("ChannelNotifier with a failing webhook", () => {
  let hook: Awaited<ReturnType<typeof webhook>> | undefined;
  afterEach(async () => {
    await hook?.close();
  });

  it("retries a webhook that keeps failing, then logs it and reports it undelivered without throwing", async () => {
    hook = await webhook([{ status: 500 }]);
    const logged: Array<{ message: string; details: Record<string, unknown> }> = [];
    const notifier = new ChannelNotifier({
      slackWebhookUrl: hook.url,
      log: (message, details) => logged.push({ message, details }),
    });

    const deliveries = await notifier.send(notification);

    expect(hook.posts()).toBe(3);
    expect(deliveries).toEqual([
      { channel: "slack", delivered: false, detail: "Slack answered 500 no_service" },
    ]);
    expect(logged).toEqual([
      {
        message: "notification not delivered",
        details: { channel: "slack", error: "Slack answered 500 no_service" },
      },
    ]);
    expect(JSON.stringify(logged)).not.toContain("secret-part");
  });

  it("does not ask again a webhook that refused the message itself", async () => {
    hook = await webhook([{ status: 404 }]);
    const notifier = new ChannelNotifier({ slackWebhookUrl: hook.url });

    const deliveries = await notifier.send(notification);

    expect(hook.posts()).toBe(1);
    expect(deliveries).toMatchObject([{ channel: "slack", delivered: false }]);
  });

  it("waits as a rate-limited webhook asks, then delivers", async () => {
    hook = await webhook([{ status: 429, headers: { "retry-after": "0" } }, { status: 200 }]);
    const notifier = new ChannelNotifier({ slackWebhookUrl: hook.url });

    const deliveries = await notifier.send(notification);

    expect(hook.posts()).toBe(2);
    expect(deliveries).toEqual([{ channel: "slack", delivered: true }]);
  });
});

describe("a deployment while Slack fails", () => {
  let kiln: KilnCloud;
  let hook: Awaited<ReturnType<typeof webhook>>;

  beforeAll(async () => {
    kiln = await startKilnCloud();
    hook = await webhook([{ status: 503 }]);
    // Functions read their webhook when they first load, which is at the first deployment.
    process.env.KILN_SLACK_WEBHOOK_URL = hook.url;
  }, 120_000);

  afterAll(async () => {
    await kiln?.stop();
    await hook?.close();
  });

  it("succeeds, and its email still arrives", async () => {
    await kiln.registerService("noisy");
    const { deploymentId } = await kiln.upload("hello-service", "1.0.0", "noisy");

    const deployment = await kiln.waitFor(deploymentId);

    expect(deployment.status).toBe("SUCCEEDED");
    // Started and succeeded: each tried three times.
    expect(hook.posts()).toBe(6);
    const subjects = (await listOutbox(kiln.cloud.stateDir)).map((email) => email.subject);
    expect(subjects).toEqual(["[Kiln] noisy 1.0.0 deployment started", "[Kiln] noisy 1.0.0 deployed"]);
  });
});
