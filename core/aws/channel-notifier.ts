/**
 * Notifier over a Slack incoming webhook and SES. Delivery is retried a few times and failures
 * are logged and reported, never thrown: a notification must not fail a deployment. A webhook
 * that refuses the message itself (Slack's 4xx: a revoked hook, an archived channel, a payload it
 * rejects) is not asked again; one that is busy (429, 5xx) or unreachable is, after a pause.
 */
import { type SESv2Client, SendEmailCommand } from "@aws-sdk/client-sesv2";
import { renderEmail, renderSlackMessage } from "../notification-rendering.ts";
import type { Notification, Notifier } from "../ports.ts";
import { sesClient } from "./clients.ts";

export interface ChannelNotifierOptions {
  slackWebhookUrl?: string | undefined;
  emailFrom?: string | undefined;
  ses?: SESv2Client;
  attempts?: number;
  log?: (message: string, details: Record<string, unknown>) => void;
}

type Delivery = { channel: string; delivered: boolean; detail?: string };

/** A delivery that another attempt cannot fix. */
class DeliveryRefusedError extends Error {
  override readonly name = "DeliveryRefusedError";
}

/** A delivery the receiver asked to retry later; `waitMs` is how long it asked to wait. */
class DeliveryDeferredError extends Error {
  override readonly name = "DeliveryDeferredError";

  constructor(
    message: string,
    readonly waitMs: number,
  ) {
    super(message);
  }
}

/** The longest pause honoured from a Retry-After: a notifying function has little time. */
const maxRetryAfterMs = 5_000;

async function withRetries(attempts: number, send: () => Promise<void>): Promise<string | undefined> {
  let lastError = "";
  for (let attempt = 1; attempt <= attempts; attempt += 1) {
    try {
      await send();
      return undefined;
    } catch (error) {
      lastError = error instanceof Error ? error.message : String(error);
      if (error instanceof DeliveryRefusedError) return lastError;
      const pause = error instanceof DeliveryDeferredError ? error.waitMs : 200 * 2 ** attempt;
      if (attempt < attempts) await new Promise((resolve) => setTimeout(resolve, pause));
    }
  }
  return lastError;
}

export class ChannelNotifier implements Notifier {
  constructor(private readonly options: ChannelNotifierOptions) {}

  async send(notification: Notification): Promise<Delivery[]> {
    const deliveries: Array<Promise<Delivery>> = [];
    if (notification.slack && this.options.slackWebhookUrl)
      deliveries.push(this.deliver("slack", () => this.postSlack(notification)));
    if (notification.emails.length > 0 && this.options.emailFrom)
      deliveries.push(this.deliver("email", () => this.sendEmail(notification)));
    return Promise.all(deliveries);
  }

  private async deliver(channel: string, send: () => Promise<void>): Promise<Delivery> {
    const failure = await withRetries(this.options.attempts ?? 3, send);
    if (failure === undefined) return { channel, delivered: true };
    // The webhook URL is a secret: log the channel, never the address.
    this.options.log?.("notification not delivered", { channel, error: failure });
    return { channel, delivered: false, detail: failure };
  }

  private async postSlack(notification: Notification): Promise<void> {
    const url = this.options.slackWebhookUrl ?? "";
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(renderSlackMessage(notification)),
      signal: AbortSignal.timeout(5000),
    });
    if (response.ok) return;
    const message = `Slack answered ${response.status} ${(await response.text()).slice(0, 200)}`;
    if (response.status === 429) {
      const seconds = Number(response.headers.get("retry-after") ?? "1");
      throw new DeliveryDeferredError(
        message,
        Math.min(maxRetryAfterMs, Number.isFinite(seconds) ? seconds * 1000 : 1000),
      );
    }
    if (response.status >= 400 && response.status < 500) throw new DeliveryRefusedError(message);
    throw new Error(message);
  }

  private async sendEmail(notification: Notification): Promise<void> {
    const email = renderEmail(notification);
    const ses = this.options.ses ?? sesClient();
    await ses.send(
      new SendEmailCommand({
        FromEmailAddress: this.options.emailFrom,
        Destination: { ToAddresses: notification.emails },
        Content: {
          Simple: {
            Subject: { Data: email.subject, Charset: "UTF-8" },
            Body: {
              Text: { Data: email.text, Charset: "UTF-8" },
              Html: { Data: email.html, Charset: "UTF-8" },
            },
          },
        },
      }),
    );
  }
}
