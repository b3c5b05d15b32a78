/**
 * A local SES v2 endpoint for `SendEmail` (REST-JSON `POST /v2/email/outbound-emails`, as
 * `@aws-sdk/client-sesv2` sends it): each email is written to `<stateDir>/outbox/` as a `.eml`,
 * so Kiln's notifier runs unchanged with `AWS_ENDPOINT_URL_SESV2` and a user sees what was sent.
 */
import { randomUUID } from "node:crypto";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { createServer, type ServerResponse } from "node:http";
import { join } from "node:path";
import * as z from "zod";
import { closeServer, type Log, listen, readBody } from "../endpoints.ts";
import { decodeHeaderValue, renderMime } from "./mime.ts";

export interface SesOutboxOptions {
  stateDir: string;
  port?: number;
  log?: Log;
}

export interface LocalSesOutbox {
  url: string;
  close(): Promise<void>;
}

export interface OutboxEmail {
  file: string;
  from: string;
  to: string;
  subject: string;
}

const contentSchema = z.object({ Data: z.string(), Charset: z.string().optional() });

const sendEmailSchema = z.object({
  FromEmailAddress: z.string().optional(),
  Destination: z
    .object({
      ToAddresses: z.array(z.string()).optional(),
      CcAddresses: z.array(z.string()).optional(),
      BccAddresses: z.array(z.string()).optional(),
    })
    .optional(),
  ReplyToAddresses: z.array(z.string()).optional(),
  Content: z.object({
    Simple: z
      .object({
        Subject: contentSchema,
        Body: z.object({ Text: contentSchema.optional(), Html: contentSchema.optional() }),
        Headers: z.array(z.object({ Name: z.string(), Value: z.string() })).optional(),
      })
      .optional(),
    Raw: z.object({ Data: z.string() }).optional(),
    Template: z.unknown().optional(),
  }),
});

/** The outbox folder. */
export function outboxDir(stateDir: string): string {
  return join(stateDir, "outbox");
}

class BadRequest extends Error {}

function sendJson(response: ServerResponse, status: number, body: unknown, errorType?: string): void {
  const text = JSON.stringify(body);
  const headers: Record<string, string | number> = {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
  };
  if (errorType !== undefined) headers["x-amzn-errortype"] = errorType;
  response.writeHead(status, headers).end(text);
}

/** Renders a SendEmail request as the message SES would send. */
function emailFor(body: z.infer<typeof sendEmailSchema>, messageId: string): string {
  const { Simple, Raw } = body.Content;
  if (Raw !== undefined) return Buffer.from(Raw.Data, "base64").toString("utf8");
  if (Simple === undefined)
    throw new BadRequest("The local SES sends Simple and Raw content; templates are not supported");
  if (body.FromEmailAddress === undefined) throw new BadRequest("FromEmailAddress is required");
  const to = body.Destination?.ToAddresses ?? [];
  const cc = body.Destination?.CcAddresses ?? [];
  const bcc = body.Destination?.BccAddresses ?? [];
  if (to.length + cc.length + bcc.length === 0) throw new BadRequest("Destination has no recipients");
  if (Simple.Body.Text === undefined && Simple.Body.Html === undefined)
    throw new BadRequest("Body needs Text or Html");
  return renderMime({
    from: body.FromEmailAddress,
    to,
    cc,
    bcc,
    replyTo: body.ReplyToAddresses ?? [],
    subject: Simple.Subject.Data,
    text: Simple.Body.Text?.Data,
    html: Simple.Body.Html?.Data,
    headers: (Simple.Headers ?? []).map((header) => ({ name: header.Name, value: header.Value })),
    messageId,
    date: new Date(),
  });
}

/** Every email in the outbox, oldest first, with the headers a listing shows. */
export async function listOutbox(stateDir: string): Promise<OutboxEmail[]> {
  const dir = outboxDir(stateDir);
  let files: string[];
  try {
    files = (await readdir(dir)).filter((file) => file.endsWith(".eml")).sort();
  } catch (error) {
    if (error instanceof Error && "code" in error && error.code === "ENOENT") return [];
    throw error;
  }
  return Promise.all(
    files.map(async (file) => {
      const text = await readFile(join(dir, file), "utf8");
      const head = text.split(/\r?\n\r?\n/, 1)[0] ?? "";
      const header = (name: string) =>
        decodeHeaderValue(new RegExp(`^${name}: (.*)$`, "im").exec(head)?.[1]?.trim() ?? "");
      return { file: join(dir, file), from: header("From"), to: header("To"), subject: header("Subject") };
    }),
  );
}

/** Starts the local SES v2 endpoint. */
export async function startSesOutbox(options: SesOutboxOptions): Promise<LocalSesOutbox> {
  const log = options.log ?? (() => {});
  const dir = outboxDir(options.stateDir);
  await mkdir(dir, { recursive: true });

  const server = createServer((request, response) => {
    void (async () => {
      const path = (request.url ?? "/").split("?")[0];
      if (request.method !== "POST" || path !== "/v2/email/outbound-emails") {
        sendJson(
          response,
          404,
          { message: `The local SES implements SendEmail only, not ${request.method} ${path}` },
          "NotFoundException",
        );
        return;
      }
      try {
        const parsed = sendEmailSchema.safeParse(
          JSON.parse((await readBody(request)).toString("utf8") || "{}"),
        );
        if (!parsed.success) throw new BadRequest(z.prettifyError(parsed.error));
        const messageId = `${Date.now().toString(16)}-${randomUUID()}`;
        const email = emailFor(parsed.data, messageId);
        const stamp = new Date().toISOString().replace(/[:.]/g, "-");
        await writeFile(join(dir, `${stamp}-${messageId}.eml`), email);
        log(
          `ses: ${parsed.data.Content.Simple?.Subject.Data ?? "(raw email)"} → ${parsed.data.Destination?.ToAddresses?.join(", ") ?? ""}`,
        );
        sendJson(response, 200, { MessageId: messageId });
      } catch (error) {
        if (error instanceof BadRequest || error instanceof SyntaxError) {
          sendJson(response, 400, { message: error.message }, "BadRequestException");
          return;
        }
        log(`ses: could not write an email: ${String(error)}`);
        sendJson(response, 500, { message: "InternalFailure" }, "InternalFailure");
      }
    })();
  });
  const url = await listen(server, options.port ?? 0, "SES");
  return { url, close: () => closeServer(server) };
}
