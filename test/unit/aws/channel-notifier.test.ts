import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { SESv2Client, SendEmailCommand } from "@aws-sdk/client-sesv2";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ChannelNotifier } from "../../../core/aws/channel-notifier.ts";
import { renderSlackMessage } from "../../../core/notification-rendering.ts";
import type { Notification } from "../../../core/ports.ts";
import { clientConfig, sdkError } from "./sdk-error.ts";

const notification: Notification = {
  kind: "FAILED",
  service: "hello-service",
  title: "hello-service 1.2.3 deployment failed",
  fields: [{ label: "Failed at canary", value: "canary i-1 was not healthy in time" }],
  emails: ["team@example.com"],
  slack: true,
};

describe("ChannelNotifier", () => {
  let server: Server;
  let webhookUrl: string;
  let answers: number[];
  const received: unknown[] = [];
  const ses = new SESv2Client(clientConfig);
  const sesMock = mockClient(ses);

  beforeEach(async () => {
    answers = [];
    received.length = 0;
    sesMock.reset();
    sesMock.on(SendEmailCommand).resolves({ MessageId: "m-1" });
    server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on("data", (chunk: Buffer) => chunks.push(chunk));
      request.on("end", () => {
        received.push(JSON.parse(Buffer.concat(chunks).toString("utf8")));
        response.writeHead(answers.shift() ?? 200).end("ok");
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    webhookUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/services/T000/B000/secret`;
  });

  afterEach(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it("posts the Slack message to the webhook and emails the addresses the notification names", async () => {
    const notifier = new ChannelNotifier({ slackWebhookUrl: webhookUrl, emailFrom: "kiln@example.com", ses });

    const deliveries = await notifier.send(notification);

    expect(deliveries).toEqual([
      { channel: "slack", delivered: true },
      { channel: "email", delivered: true },
    ]);
    expect(received).toEqual([renderSlackMessage(notification)]);
    expect(sesMock.commandCalls(SendEmailCommand)[0]?.args[0].input).toMatchObject({
      FromEmailAddress: "kiln@example.com",
      Destination: { ToAddresses: ["team@example.com"] },
      Content: { Simple: { Subject: { Data: "[Kiln] hello-service 1.2.3 deployment failed" } } },
    });
  });

  it("retries Slack after a failed attempt", async () => {
    answers = [500];
    const notifier = new ChannelNotifier({ slackWebhookUrl: webhookUrl, attempts: 3 });

    const deliveries = await notifier.send(notification);

    expect(deliveries).toEqual([{ channel: "slack", delivered: true }]);
    expect(received).toHaveLength(2);
  });

  it("reports a channel that kept failing without throwing, and logs it without the webhook address", async () => {
    answers = [500, 503];
    const logged: Array<Record<string, unknown>> = [];
    const notifier = new ChannelNotifier({
      slackWebhookUrl: webhookUrl,
      attempts: 2,
      log: (_message, details) => logged.push(details),
    });

    const deliveries = await notifier.send(notification);

    expect(deliveries).toEqual([{ channel: "slack", delivered: false, detail: "Slack answered 503 ok" }]);
    expect(received).toHaveLength(2);
    expect(JSON.stringify(logged)).not.toContain("secret");
    expect(logged).toEqual([{ channel: "slack", error: "Slack answered 503 ok" }]);
  });

  it("reports an unreachable webhook without throwing", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const deadUrl = `http://127.0.0.1:${(closed.address() as AddressInfo).port}/hook`;
    await new Promise((resolve) => closed.close(resolve));
    const notifier = new ChannelNotifier({ slackWebhookUrl: deadUrl, attempts: 1 });

    const deliveries = await notifier.send(notification);

    expect(deliveries).toMatchObject([{ channel: "slack", delivered: false, detail: expect.any(String) }]);
  });

  it("reports an email SES refused without throwing, after retrying", async () => {
    sesMock
      .on(SendEmailCommand)
      .rejects(sdkError("MessageRejected", { message: "Email address is not verified" }));
    const notifier = new ChannelNotifier({ emailFrom: "kiln@example.com", ses, attempts: 2 });

    const deliveries = await notifier.send({ ...notification, slack: false });

    expect(deliveries).toEqual([
      { channel: "email", delivered: false, detail: "Email address is not verified" },
    ]);
    expect(sesMock.commandCalls(SendEmailCommand)).toHaveLength(2);
  });

  it("sends nothing to a channel the notification or the configuration leaves out", async () => {
    const notifier = new ChannelNotifier({ slackWebhookUrl: webhookUrl, ses });

    const deliveries = await notifier.send({ ...notification, slack: false });

    expect(deliveries).toEqual([]);
    expect(received).toEqual([]);
    expect(sesMock.commandCalls(SendEmailCommand)).toEqual([]);
  });
});
