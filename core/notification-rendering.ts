/**
 * How a notification looks in each channel: a Slack Block Kit message for an incoming webhook,
 * and an email in HTML and plain text. Short facts sit side by side; long ones (a failure's
 * reason, a list) get a full-width block of their own. Every text stays within Slack's limits.
 */
import type { Notification, NotificationKind } from "./ports.ts";

const emoji: Record<NotificationKind, string> = {
  STARTED: ":hourglass_flowing_sand:",
  SUCCEEDED: ":white_check_mark:",
  FAILED: ":x:",
  ROLLED_BACK: ":rewind:",
  REJECTED: ":no_entry:",
  CANCELLED: ":octagonal_sign:",
  PRUNED: ":broom:",
};

/** The colour an email's banner takes for each kind of news. */
const colour: Record<NotificationKind, string> = {
  STARTED: "#1f5fbf",
  SUCCEEDED: "#12805c",
  FAILED: "#c0362c",
  ROLLED_BACK: "#b54708",
  REJECTED: "#c0362c",
  CANCELLED: "#667085",
  PRUNED: "#6941c6",
};

// Block Kit's limits: header 150 characters, a field 2000, a section's text 3000, 10 fields.
const limits = { header: 150, field: 2000, section: 3000, fields: 10 } as const;

/** Facts shown as code: a failure's reason, a list of errors. */
const verbatimLabels = new Set(["Reason", "Errors", "Aborted because"]);

type Field = Notification["fields"][number];

function isLong(field: Field): boolean {
  return verbatimLabels.has(field.label) || field.value.length > 60 || field.value.includes("\n");
}

function cut(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** Slack escapes only these three characters in text. */
function slackEscape(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}

function htmlEscape(text: string): string {
  return slackEscape(text).replaceAll('"', "&quot;").replaceAll("'", "&#39;");
}

function slackFact(field: Field, max: number): string {
  const label = `*${slackEscape(field.label)}*\n`;
  const room = max - label.length - 8;
  const value = slackEscape(cut(field.value, room));
  return verbatimLabels.has(field.label) ? `${label}\`\`\`${value}\`\`\`` : `${label}${value}`;
}

/** A Slack incoming-webhook payload: header, facts, long facts, context, a button to the dashboard. */
export function renderSlackMessage(notification: Notification) {
  const short = notification.fields.filter((field) => !isLong(field));
  const long = notification.fields.filter(isLong);
  const blocks: Array<Record<string, unknown>> = [
    {
      type: "header",
      text: {
        type: "plain_text",
        text: cut(`${emoji[notification.kind]} ${notification.title}`, limits.header),
        emoji: true,
      },
    },
  ];
  for (let start = 0; start < short.length; start += limits.fields) {
    blocks.push({
      type: "section",
      fields: short
        .slice(start, start + limits.fields)
        .map((field) => ({ type: "mrkdwn", text: slackFact(field, limits.field) })),
    });
  }
  for (const field of long)
    blocks.push({ type: "section", text: { type: "mrkdwn", text: slackFact(field, limits.section) } });
  blocks.push({
    type: "context",
    elements: [{ type: "mrkdwn", text: slackEscape(`Kiln · ${notification.service}`) }],
  });
  if (notification.link) {
    blocks.push({
      type: "actions",
      elements: [
        { type: "button", text: { type: "plain_text", text: "Open in Kiln" }, url: notification.link },
      ],
    });
  }
  // `text` is what notifications and screen readers show; the blocks are what the channel shows.
  return { text: `${emoji[notification.kind]} ${slackEscape(notification.title)}`, blocks };
}

/** An email: a subject, and the same facts in plain text and in HTML. */
export function renderEmail(notification: Notification) {
  const subject = `[Kiln] ${notification.title}`;
  const short = notification.fields.filter((field) => !isLong(field));
  const long = notification.fields.filter(isLong);

  const width = Math.max(0, ...short.map((field) => field.label.length)) + 2;
  const text = [
    notification.title,
    "=".repeat(notification.title.length),
    "",
    ...short.map((field) => `${`${field.label}:`.padEnd(width)}${field.value}`),
    ...long.flatMap((field) => [
      "",
      `${field.label}:`,
      ...field.value.split("\n").map((line) => `  ${line}`),
    ]),
    ...(notification.link ? ["", `Open in Kiln: ${notification.link}`] : []),
    "",
    "-- ",
    `Kiln, for ${notification.service}`,
    "",
  ].join("\n");

  const cell = "padding:6px 16px 6px 0;vertical-align:top;font-size:14px;border-bottom:1px solid #eaecf0";
  const rows = short
    .map(
      (field) =>
        `<tr><th align="left" style="${cell};color:#667085;font-weight:600;white-space:nowrap">${htmlEscape(field.label)}</th>` +
        `<td style="${cell};color:#1d2330">${htmlEscape(field.value)}</td></tr>`,
    )
    .join("");
  const blocks = long
    .map((field) => {
      const body = verbatimLabels.has(field.label)
        ? `<pre style="margin:4px 0 0;padding:10px 12px;background:#f9fafb;border:1px solid #eaecf0;border-radius:6px;white-space:pre-wrap;word-break:break-word;font-size:13px">${htmlEscape(field.value)}</pre>`
        : `<p style="margin:4px 0 0;white-space:pre-wrap">${htmlEscape(field.value)}</p>`;
      return `<div style="margin-top:16px"><div style="color:#667085;font-weight:600;font-size:14px">${htmlEscape(field.label)}</div>${body}</div>`;
    })
    .join("");
  const button = notification.link
    ? `<p style="margin:24px 0 0"><a href="${htmlEscape(notification.link)}" style="display:inline-block;padding:10px 18px;background:#1d2330;color:#ffffff;text-decoration:none;border-radius:6px;font-weight:600">Open in Kiln</a></p>`
    : "";
  const html = [
    "<!doctype html>",
    `<html lang="en"><head><meta charset="utf-8"><title>${htmlEscape(subject)}</title></head>`,
    '<body style="margin:0;padding:24px;background:#f6f7f9;font-family:-apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif;color:#1d2330">',
    '<div style="max-width:640px;margin:0 auto;background:#ffffff;border:1px solid #eaecf0;border-radius:10px;overflow:hidden">',
    `<div style="background:${colour[notification.kind]};color:#ffffff;padding:16px 24px;font-size:18px;font-weight:600">${htmlEscape(notification.title)}</div>`,
    `<div style="padding:16px 24px 24px"><table role="presentation" cellspacing="0" cellpadding="0" style="border-collapse:collapse;width:100%">${rows}</table>${blocks}${button}</div>`,
    "</div>",
    `<p style="max-width:640px;margin:12px auto 0;color:#98a2b3;font-size:12px">Kiln, for ${htmlEscape(notification.service)}</p>`,
    "</body></html>",
    "",
  ].join("\n");
  return { subject, text, html };
}
