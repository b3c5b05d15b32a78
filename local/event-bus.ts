/**
 * The local default event bus: AWS services put their events on EventBridge's default bus, and
 * each rule whose pattern matches an event invokes its target asynchronously, at least once.
 * The local emulators emit the same events (through an optional `emitEvent` sink, so they run
 * without a bus too), and the local cloud routes them here through the rules the stack deploys
 * (workflows/event-rules.ts).
 *
 * An event is built in the same tick as the state change it reports becomes visible to Describe
 * calls; delivery then happens in the background (EventDelivery), as EventBridge → Lambda does.
 */
import { randomUUID } from "node:crypto";
import type { EventBridgeEvent } from "aws-lambda";
import { type EventPattern, matchesPattern } from "../workflows/event-rules.ts";
import { accountId, type Log, region } from "./endpoints.ts";
import { EventDelivery } from "./event-delivery.ts";

/** An event in EventBridge's envelope, as AWS services put them on the default bus. */
export type AwsEvent<DetailType extends string = string, Detail = unknown> = EventBridgeEvent<
  DetailType,
  Detail
>;

/** Where an emulator hands the events it emits; it must return at once and never throw. */
export type EmitEvent = (event: AwsEvent) => void;

/** EventBridge event times carry whole seconds. */
export function eventTime(at: Date = new Date()): string {
  return at.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** Wraps an event's detail in the envelope AWS services use (the local account and region). */
export function awsEvent<DetailType extends string, Detail>(
  source: string,
  detailType: DetailType,
  resources: string[],
  detail: Detail,
  at: Date = new Date(),
): AwsEvent<DetailType, Detail> {
  return {
    version: "0",
    id: randomUUID(),
    "detail-type": detailType,
    source,
    account: accountId,
    time: eventTime(at),
    region,
    resources,
    detail,
  };
}

/** A rule on the bus: events matching `pattern` are delivered to the function `target`. */
export interface BusRule {
  description?: string;
  pattern: EventPattern;
  target: string;
}

export interface EventBusOptions {
  /** The rules, by name (a rule's name appears in delivery log lines). */
  rules: Readonly<Record<string, BusRule>>;
  /** Delivers one event to a rule's target; a rejection is retried. */
  invoke: (target: string, event: AwsEvent) => Promise<unknown>;
  log?: Log;
  /** Attempts per delivery (default 3, as Lambda's asynchronous invocation). */
  attempts?: number;
  /** Pause before a retry (default 200 ms, longer for each further attempt). */
  retryDelayMs?: number;
}

export class EventBus {
  private readonly delivery: EventDelivery;
  private readonly rules: [string, BusRule][];

  constructor(private readonly options: EventBusOptions) {
    const log = options.log ?? (() => {});
    this.rules = Object.entries(options.rules);
    this.delivery = new EventDelivery({
      log: (line) => log(`events: ${line}`),
      attempts: options.attempts,
      retryDelayMs: options.retryDelayMs,
    });
  }

  /** Puts an event on the bus: returns at once; each matching rule's target gets it later. */
  publish(event: AwsEvent): void {
    for (const [name, rule] of this.rules) {
      if (!matchesPattern(rule.pattern, event)) continue;
      this.delivery.deliver(`${event["detail-type"]} ${event.id} to ${rule.target} (rule ${name})`, () =>
        this.options.invoke(rule.target, event).then(() => undefined),
      );
    }
  }

  /** Resolves once every delivery started so far (and any it caused) has finished. */
  settled(): Promise<void> {
    return this.delivery.settled();
  }

  /** Stops accepting events and waits for the deliveries under way. */
  close(): Promise<void> {
    return this.delivery.close();
  }
}
