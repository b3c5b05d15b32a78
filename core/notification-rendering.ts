/** How a notification looks in each channel: Slack Block Kit and an email in HTML and plain text. */
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

/** Slack escapes only these three characters in text. */
function slackEscape(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}

function htmlEscape(text: string): string {
  return slackEscape(text).replaceAll('"', "&quot;").replaceAll("'", "&#39;");
}

/** A Slack incoming-webhook payload. */
export function renderSlackMessage(notification: Notification) {
  const title = `${emoji[notification.kind]} ${slackEscape(notification.title)}`;
  const fields = notification.fields.slice(0, 10).map((field) => ({
    type: "mrkdwn",
    text: `*${slackEscape(field.label)}*\n${slackEscape(field.value).slice(0, 1900)}`,
  }));
  const blocks: Array<Record<string, unknown>> = [
    {
      type: "header",
      text: { type: "plain_text", text: `${notification.title}`.slice(0, 150), emoji: true },
    },
    { type: "section", fields },
  ];
  if (notification.link) {
    blocks.push({
      type: "actions",
      elements: [
        { type: "button", text: { type: "plain_text", text: "Open in Kiln" }, url: notification.link },
      ],
    });
  }
  return { text: title, blocks };
}

/** An email: subject, plain text and HTML with the same facts. */
export function renderEmail(notification: Notification) {
  const subject = `[Kiln] ${notification.title}`;
  const text = [
    notification.title,
    "",
    ...notification.fields.map((field) => `${field.label}: ${field.value}`),
    ...(notification.link ? ["", notification.link] : []),
  ].join("\n");
  const rows = notification.fields
    .map(
      (field) =>
        `<tr><th align="left" style="padding:4px 12px 4px 0;color:#555">${htmlEscape(field.label)}</th><td style="padding:4px 0">${htmlEscape(field.value)}</td></tr>`,
    )
    .join("");
  const link = notification.link ? `<p><a href="${htmlEscape(notification.link)}">Open in Kiln</a></p>` : "";
  const html = `<!doctype html><html><body style="font-family:sans-serif"><h2>${htmlEscape(notification.title)}</h2><table>${rows}</table>${link}</body></html>`;
  return { subject, text, html };
}
