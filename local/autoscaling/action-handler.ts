/** The shape of one emulated Auto Scaling action. */
import type { EmulatorContext } from "./emulator-context.ts";
import type { RefreshRunner } from "./instance-refresh.ts";
import type { QueryTree, XmlValue } from "./query-protocol.ts";

export interface ActionRuntime {
  context: EmulatorContext;
  refreshes: RefreshRunner;
}

/** Handles an action's parameters; returns its Result element's content, or undefined for none. */
export type ActionHandler = (
  runtime: ActionRuntime,
  params: Record<string, QueryTree>,
) => Promise<Record<string, XmlValue> | undefined>;
