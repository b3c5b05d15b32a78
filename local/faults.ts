/**
 * Fault injection for the local cloud: a rule makes one emulated operation fail, slow down or
 * throttle, so every failure path of a deployment can be exercised end to end.
 *
 * Operations are named `<service>:<Action>` for API calls (`ec2:RunInstances`,
 * `autoscaling:StartInstanceRefresh`) and `<service>:<event>` for behaviour that is not an API
 * call (`ec2:bake` — the builder's user data fails, `ec2:image` — an image ends `failed`,
 * `autoscaling:refresh` — an instance refresh fails). An unhealthy service needs no fault: it is
 * a real process that answers 500 (examples/broken-service).
 */
import * as z from "zod";

export const faultRuleSchema = z.object({
  operation: z.string().regex(/^[a-z0-9-]+:[A-Za-z0-9.-]+$/, "operation is <service>:<Action>"),
  kind: z.enum(["fail", "delay", "throttle"]),
  /** Error code returned by `fail` (default: the operation's natural failure). */
  code: z.string().optional(),
  message: z.string().optional(),
  /** Extra latency for `delay`, in milliseconds. */
  delayMs: z.number().int().nonnegative().optional(),
  /** How many times the rule fires before it is spent; absent means forever. */
  times: z.number().int().positive().optional(),
  /** Only fire when the operation's subject matches (an image name, a tag value, a group name). */
  match: z.string().optional(),
});
export type FaultRule = z.infer<typeof faultRuleSchema>;

export class InjectedFault extends Error {
  constructor(
    readonly rule: FaultRule,
    readonly code: string,
  ) {
    super(rule.message ?? `injected fault: ${rule.operation} ${rule.kind}`);
    this.name = "InjectedFault";
  }
}

export class FaultInjector {
  private rules: FaultRule[] = [];

  add(rule: FaultRule): void {
    this.rules.push(faultRuleSchema.parse(rule));
  }

  clear(): void {
    this.rules = [];
  }

  list(): FaultRule[] {
    return this.rules.map((rule) => ({ ...rule }));
  }

  /**
   * Returns the rule that fires for this operation (spending one use of it), if any.
   * `subject` is matched as a substring against `rule.match`.
   */
  take(operation: string, subject = ""): FaultRule | undefined {
    const index = this.rules.findIndex(
      (rule) => rule.operation === operation && (rule.match === undefined || subject.includes(rule.match)),
    );
    if (index < 0) return undefined;
    const rule = this.rules[index];
    if (rule === undefined) return undefined;
    if (rule.times !== undefined) {
      if (rule.times <= 1) this.rules.splice(index, 1);
      else this.rules[index] = { ...rule, times: rule.times - 1 };
    }
    return rule;
  }

  /**
   * Applies a rule for an API call: waits for `delay`, throws InjectedFault for `fail` and
   * `throttle` (the protocol layer renders it as the service's error, `Throttling` /
   * `RequestLimitExceeded` for throttle).
   */
  async apply(operation: string, subject = ""): Promise<void> {
    const rule = this.take(operation, subject);
    if (rule === undefined) return;
    if (rule.kind === "delay") {
      await new Promise((resolve) => setTimeout(resolve, rule.delayMs ?? 1000));
      return;
    }
    const code = rule.code ?? (rule.kind === "throttle" ? "Throttling" : "InternalError");
    throw new InjectedFault(rule, code);
  }
}
