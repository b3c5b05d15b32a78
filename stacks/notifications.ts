import type { KilnSettings } from "./settings.ts";

/** Where notifications go: a Slack incoming webhook (a secret) and an SES sender identity. */
export function createNotifications(settings: KilnSettings) {
  // Set with `npx sst secret set SlackWebhookUrl <url> --stage <stage>`. Until it is, the value is
  // empty and the functions send no Slack messages (they treat an empty variable as unset).
  const slackWebhookUrl = new sst.Secret("SlackWebhookUrl", "");
  const email = new sst.aws.Email("NotificationEmail", {
    sender: settings.emailFrom,
    // Kiln does not assume the domain's DNS is in Route 53: the DKIM records are published by hand.
    ...(settings.emailFrom.includes("@") ? {} : { dns: false as const }),
  });
  return { slackWebhookUrl, email };
}
