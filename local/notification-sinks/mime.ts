/**
 * A MIME message (RFC 5322 with multipart/alternative bodies) as SES would send it, written to
 * the local outbox as a `.eml` file any mail client opens.
 */
import { randomBytes } from "node:crypto";

export interface MimeMessage {
  from: string;
  to: string[];
  cc: string[];
  bcc: string[];
  replyTo: string[];
  subject: string;
  text?: string | undefined;
  html?: string | undefined;
  headers: { name: string; value: string }[];
  messageId: string;
  date: Date;
}

/** A header value in RFC 2047 encoded-word form when it is not plain ASCII. */
export function encodeHeaderValue(value: string): string {
  if (/^[\u0020-\u007e]*$/.test(value)) return value;
  return `=?UTF-8?B?${Buffer.from(value, "utf8").toString("base64")}?=`;
}

/** Quoted-printable (RFC 2045) with CRLF line ends and soft breaks before 76 characters. */
export function quotedPrintable(text: string): string {
  const lines = text.replace(/\r\n/g, "\n").split("\n");
  return lines
    .map((line) => {
      let encoded = "";
      const bytes = Buffer.from(line, "utf8");
      bytes.forEach((byte, index) => {
        const isLast = index === bytes.length - 1;
        const printable =
          (byte >= 33 && byte <= 126 && byte !== 61) || ((byte === 32 || byte === 9) && !isLast);
        encoded += printable
          ? String.fromCharCode(byte)
          : `=${byte.toString(16).toUpperCase().padStart(2, "0")}`;
      });
      const wrapped: string[] = [];
      while (encoded.length > 75) {
        let cut = 75;
        // Never split an =XX escape.
        const escapeStart = encoded.lastIndexOf("=", cut);
        if (escapeStart > cut - 3) cut = escapeStart;
        wrapped.push(`${encoded.slice(0, cut)}=`);
        encoded = encoded.slice(cut);
      }
      wrapped.push(encoded);
      return wrapped.join("\r\n");
    })
    .join("\r\n");
}

/** Renders the message; both bodies go in one multipart/alternative, text first as RFC 2046 asks. */
export function renderMime(message: MimeMessage): string {
  const boundary = `kiln-${randomBytes(12).toString("hex")}`;
  const lines: string[] = [`From: ${encodeHeaderValue(message.from)}`, `To: ${message.to.join(", ")}`];
  if (message.cc.length > 0) lines.push(`Cc: ${message.cc.join(", ")}`);
  // The outbox is what was sent, so it keeps the Bcc line a delivered copy would not show.
  if (message.bcc.length > 0) lines.push(`Bcc: ${message.bcc.join(", ")}`);
  if (message.replyTo.length > 0) lines.push(`Reply-To: ${message.replyTo.join(", ")}`);
  lines.push(
    `Subject: ${encodeHeaderValue(message.subject)}`,
    `Date: ${message.date.toUTCString().replace("GMT", "+0000")}`,
    `Message-ID: <${message.messageId}@kiln.local>`,
    ...message.headers.map((header) => `${header.name}: ${encodeHeaderValue(header.value)}`),
    "MIME-Version: 1.0",
    `Content-Type: multipart/alternative; boundary="${boundary}"`,
    "",
  );
  const parts: [string, string | undefined][] = [
    ["text/plain", message.text],
    ["text/html", message.html],
  ];
  for (const [type, body] of parts) {
    if (body === undefined) continue;
    lines.push(
      `--${boundary}`,
      `Content-Type: ${type}; charset=UTF-8`,
      "Content-Transfer-Encoding: quoted-printable",
      "",
      quotedPrintable(body),
    );
  }
  lines.push(`--${boundary}--`, "");
  return lines.join("\r\n");
}

/** Decodes an RFC 2047 header value written by encodeHeaderValue. */
export function decodeHeaderValue(value: string): string {
  return value.replace(/=\?UTF-8\?B\?([A-Za-z0-9+/=]*)\?=/g, (_, encoded: string) =>
    Buffer.from(encoded, "base64").toString("utf8"),
  );
}
