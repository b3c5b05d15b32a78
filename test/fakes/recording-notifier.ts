import type { Notification, Notifier } from "../../core/ports.ts";

/** Keeps every notification it is asked to send; delivers to nobody. */
export class RecordingNotifier implements Notifier {
  readonly sent: Notification[] = [];

  async send(notification: Notification) {
    this.sent.push(structuredClone(notification));
    return [];
  }

  kinds(): string[] {
    return this.sent.map((notification) => notification.kind);
  }
}
