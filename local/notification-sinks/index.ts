/** Where Kiln's notifications land in the local cloud: a Slack webhook sink and an SES outbox. */

export {
  type LocalSesOutbox,
  listOutbox,
  type OutboxEmail,
  outboxDir,
  startSesOutbox,
} from "./ses-outbox.ts";
export {
  type LocalSlackSink,
  listSlackMessages,
  type StoredSlackMessage,
  slackMessagesDir,
  startSlackSink,
} from "./slack-webhook.ts";
