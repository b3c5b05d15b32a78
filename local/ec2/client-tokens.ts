/**
 * Idempotent requests: a client token names one creation. The same token with the same
 * parameters returns what the first request created; with other parameters it fails with
 * `IdempotentParameterMismatch`, as AWS does.
 */
import { Ec2Error } from "./errors.ts";
import type { QueryTree } from "./query-params.ts";
import type { Ec2State } from "./state.ts";

function canonical(tree: QueryTree | string): string {
  if (typeof tree === "string") return JSON.stringify(tree);
  const keys = Object.keys(tree).sort();
  return `{${keys.map((key) => `${JSON.stringify(key)}:${canonical(tree[key] ?? "")}`).join(",")}}`;
}

/** The parameters of a request minus those that do not change what it creates. */
export function fingerprintOf(params: QueryTree): string {
  const { ClientToken: _token, DryRun: _dryRun, ...rest } = params;
  return canonical(rest);
}

/** The resource a previous request with this token created, if any. */
export function previousCreation(
  state: Ec2State,
  action: string,
  token: string | undefined,
  fingerprint: string,
): string | undefined {
  if (token === undefined) return undefined;
  const entry = state.clientTokens[`${action}:${token}`];
  if (entry === undefined) return undefined;
  if (entry.fingerprint !== fingerprint) {
    throw new Ec2Error(
      "IdempotentParameterMismatch",
      "Arguments on this idempotent request are inconsistent with arguments used in previous request(s).",
    );
  }
  return entry.resourceId;
}

/** Records what a request with a client token created. */
export function rememberCreation(
  state: Ec2State,
  action: string,
  token: string | undefined,
  fingerprint: string,
  resourceId: string,
): void {
  if (token !== undefined) state.clientTokens[`${action}:${token}`] = { fingerprint, resourceId };
}
