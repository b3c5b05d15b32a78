import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SESv2Client, SendEmailCommand } from "@aws-sdk/client-sesv2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { localCredentials } from "../../local/endpoints.ts";
import {
  type LocalSesOutbox,
  type LocalSlackSink,
  listOutbox,
  listSlackMessages,
  startSesOutbox,
  startSlackSink,
} from "../../local/notification-sinks/index.ts";
import { quotedPrintable } from "../../local/notification-sinks/mime.ts";

/** Decodes quoted-printable, as a mail client does. */
function decodeQuotedPrintable(text: string): string {
  const bytes = text
    .replace(/=\r\n/g, "")
    .replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
  return Buffer.from(bytes, "latin1").toString("utf8");
}

describe("notification sinks", () => {
  let stateDir: string;
  let slack: LocalSlackSink;
  let ses: LocalSesOutbox;
  let client: SESv2Client;

  beforeAll(async () => {
    stateDir = await mkdtemp(join(tmpdir(), "kiln-sinks-"));
    slack = await startSlackSink({ stateDir });
    ses = await startSesOutbox({ stateDir });
    client = new SESv2Client({ endpoint: ses.url, region: "us-east-1", credentials: localCredentials });
  });

  afterAll(async () => {
    client?.destroy();
    await slack?.close();
    await ses?.close();
    await rm(stateDir, { recursive: true, force: true });
  });

  describe("Slack webhook", () => {
    it("answers ok and stores each message in arrival order", async () => {
      const first = await fetch(slack.webhookUrl, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ text: "web 1.0 deployed", blocks: [{ type: "section" }] }),
      });
      const second = await fetch(slack.webhookUrl, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ payload: JSON.stringify({ text: "web 1.1 failed" }) }).toString(),
      });
      const messages = await listSlackMessages(stateDir);

      expect([first.status, await first.text()]).toEqual([200, "ok"]);
      expect([second.status, await second.text()]).toEqual([200, "ok"]);
      expect(messages.map((stored) => stored.message.text)).toEqual(["web 1.0 deployed", "web 1.1 failed"]);
      expect(messages[0]).toMatchObject({
        path: "/services/KILN/LOCAL/webhook",
        message: { blocks: [{ type: "section" }] },
      });
    });

    it("refuses what Slack refuses", async () => {
      const notJson = await fetch(slack.webhookUrl, { method: "POST", body: "hello" });
      const noText = await fetch(slack.webhookUrl, {
        method: "POST",
        body: JSON.stringify({ username: "kiln" }),
      });

      expect([notJson.status, await notJson.text()]).toEqual([400, "invalid_payload"]);
      expect([noText.status, await noText.text()]).toEqual([400, "no_text"]);
    });
  });

  describe("SES outbox", () => {
    it("writes a SendEmail as a multipart/alternative .eml and answers its MessageId", async () => {
      const sent = await client.send(
        new SendEmailCommand({
          FromEmailAddress: "kiln@localhost",
          Destination: {
            ToAddresses: ["ops@example.com", "dev@example.com"],
            BccAddresses: ["audit@example.com"],
          },
          Content: {
            Simple: {
              Subject: { Data: "Déploiement de web 1.0 réussi" },
              Body: {
                Text: { Data: "web 1.0 is live — image ami-123" },
                Html: { Data: "<p>web 1.0 is <b>live</b> — image ami-123</p>" },
              },
            },
          },
        }),
      );
      const [email] = await listOutbox(stateDir);
      const raw = await readFile(email?.file ?? "", "utf8");
      const [, textPart, htmlPart] = raw.split(/--kiln-[0-9a-f]+\r\n/);

      expect(sent.MessageId).toMatch(/\S+/);
      expect(email).toMatchObject({
        from: "kiln@localhost",
        to: "ops@example.com, dev@example.com",
        subject: "Déploiement de web 1.0 réussi",
      });
      expect(email?.file).toContain(sent.MessageId);
      expect(raw).toMatch(/^Content-Type: multipart\/alternative; boundary="kiln-[0-9a-f]+"\r$/m);
      expect(raw).toMatch(/^Bcc: audit@example.com\r$/m);
      expect(textPart).toMatch(/^Content-Type: text\/plain; charset=UTF-8/);
      expect(decodeQuotedPrintable(textPart?.split("\r\n\r\n")[1]?.trim() ?? "")).toBe(
        "web 1.0 is live — image ami-123",
      );
      expect(htmlPart).toMatch(/^Content-Type: text\/html; charset=UTF-8/);
      expect(decodeQuotedPrintable(htmlPart?.split("\r\n\r\n")[1]?.split("\r\n--")[0] ?? "")).toBe(
        "<p>web 1.0 is <b>live</b> — image ami-123</p>",
      );
    });

    it("refuses an email without a sender as SES does", async () => {
      const missingFrom = client.send(
        new SendEmailCommand({
          Destination: { ToAddresses: ["ops@example.com"] },
          Content: { Simple: { Subject: { Data: "x" }, Body: { Text: { Data: "y" } } } },
        }),
      );

      await expect(missingFrom).rejects.toMatchObject({ name: "BadRequestException" });
    });
  });
});

describe("quotedPrintable", () => {
  it("keeps lines under 77 characters and round-trips long unicode text", () => {
    const text = `${"é".repeat(60)} ${"a=b ".repeat(30)}\nsecond line `;
    const encoded = quotedPrintable(text);

    expect(encoded.split("\r\n").every((line) => line.length <= 76)).toBe(true);
    expect(decodeQuotedPrintable(encoded).replace(/\r\n/g, "\n")).toBe(text);
  });
});
