/**
 * A Slack-compatible incoming webhook: accepts what Slack accepts (a JSON body, or a form field
 * `payload` holding JSON), answers as Slack answers (`ok`, `invalid_payload`, `no_text`), and
 * keeps each message as JSON under `<stateDir>/notifications/slack/` so a user sees what would
 * have been posted.
 */
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { createServer, type ServerResponse } from "node:http";
import { join } from "node:path";
import * as z from "zod";
import { closeServer, type Log, listen, readBody } from "../endpoints.ts";

export interface SlackSinkOptions {
  stateDir: string;
  port?: number;
  log?: Log;
}

export interface LocalSlackSink {
  /** The base URL; any path under it is a webhook. */
  url: string;
  /** The webhook URL to give Kiln (`KILN_SLACK_WEBHOOK_URL`). */
  webhookUrl: string;
  close(): Promise<void>;
}

export const storedSlackMessageSchema = z.object({
  receivedAt: z.string(),
  path: z.string(),
  message: z.record(z.string(), z.unknown()),
});
export type StoredSlackMessage = z.infer<typeof storedSlackMessageSchema>;

/** The folder the sink writes to. */
export function slackMessagesDir(stateDir: string): string {
  return join(stateDir, "notifications", "slack");
}

/** Every message the sink has stored, oldest first. */
export async function listSlackMessages(stateDir: string): Promise<StoredSlackMessage[]> {
  const dir = slackMessagesDir(stateDir);
  let files: string[];
  try {
    files = (await readdir(dir)).filter((file) => file.endsWith(".json")).sort();
  } catch (error) {
    if (error instanceof Error && "code" in error && error.code === "ENOENT") return [];
    throw error;
  }
  return Promise.all(
    files.map(async (file) =>
      storedSlackMessageSchema.parse(JSON.parse(await readFile(join(dir, file), "utf8"))),
    ),
  );
}

function reply(response: ServerResponse, status: number, text: string): void {
  response
    .writeHead(status, {
      "content-type": "text/plain; charset=utf-8",
      "content-length": Buffer.byteLength(text),
    })
    .end(text);
}

/** Parses a webhook body as Slack does; undefined when it is not a JSON object. */
function parsePayload(body: string, contentType: string | undefined): Record<string, unknown> | undefined {
  let text = body;
  if (contentType?.startsWith("application/x-www-form-urlencoded"))
    text = new URLSearchParams(body).get("payload") ?? "";
  try {
    const parsed = z.record(z.string(), z.unknown()).safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** Starts the webhook sink. */
export async function startSlackSink(options: SlackSinkOptions): Promise<LocalSlackSink> {
  const log = options.log ?? (() => {});
  const dir = slackMessagesDir(options.stateDir);
  await mkdir(dir, { recursive: true });
  let sequence = 0;

  const server = createServer((request, response) => {
    void (async () => {
      if (request.method !== "POST") {
        reply(response, 405, "invalid_method");
        return;
      }
      const message = parsePayload(
        (await readBody(request)).toString("utf8"),
        request.headers["content-type"],
      );
      if (message === undefined) {
        reply(response, 400, "invalid_payload");
        return;
      }
      if (message.text === undefined && message.blocks === undefined && message.attachments === undefined) {
        reply(response, 400, "no_text");
        return;
      }
      const receivedAt = new Date().toISOString();
      sequence += 1;
      // Names sort in arrival order: timestamp, then a counter for the same millisecond.
      const file = `${receivedAt.replace(/[:.]/g, "-")}-${String(sequence).padStart(6, "0")}.json`;
      const stored: StoredSlackMessage = { receivedAt, path: request.url ?? "/", message };
      await writeFile(join(dir, file), `${JSON.stringify(stored, null, 2)}\n`);
      log(`slack: ${typeof message.text === "string" ? message.text.split("\n")[0] : "(blocks)"}`);
      reply(response, 200, "ok");
    })().catch((error: unknown) => {
      log(`slack: could not store a message: ${String(error)}`);
      if (!response.headersSent) reply(response, 500, "internal_error");
    });
  });
  const url = await listen(server, options.port ?? 0, "Slack webhook");
  return { url, webhookUrl: `${url}/services/KILN/LOCAL/webhook`, close: () => closeServer(server) };
}
