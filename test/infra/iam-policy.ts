/** Reading IAM policy documents the way IAM does: one statement at a time, lists or single values. */

export interface Statement {
  Sid?: string;
  Effect: "Allow" | "Deny";
  Action: string[];
  Resource: string[];
  Principal?: Record<string, string[]>;
  Condition?: Record<string, Record<string, string[]>>;
}

const list = (value: unknown): string[] =>
  value === undefined ? [] : Array.isArray(value) ? value.map(String) : [String(value)];

/** The statements of a policy document given as JSON text or as an object. */
export function statementsOf(policy: unknown): Statement[] {
  const document = (typeof policy === "string" ? JSON.parse(policy) : policy) as { Statement?: unknown };
  const raw = Array.isArray(document.Statement)
    ? document.Statement
    : document.Statement
      ? [document.Statement]
      : [];
  return raw.map((s: Record<string, unknown>) => ({
    ...(s.Sid ? { Sid: String(s.Sid) } : {}),
    Effect: s.Effect as "Allow" | "Deny",
    Action: list(s.Action),
    Resource: list(s.Resource),
    ...(s.Principal
      ? {
          Principal: Object.fromEntries(
            Object.entries(s.Principal as Record<string, unknown>).map(([type, ids]) => [type, list(ids)]),
          ),
        }
      : {}),
    ...(s.Condition
      ? {
          Condition: Object.fromEntries(
            Object.entries(s.Condition as Record<string, Record<string, unknown>>).map(([test, keys]) => [
              test,
              Object.fromEntries(Object.entries(keys).map(([key, values]) => [key, list(values)])),
            ]),
          ),
        }
      : {}),
  }));
}

/** Every action the statements allow. */
export function allowedActions(statements: Statement[]): Set<string> {
  return new Set(statements.filter((s) => s.Effect === "Allow").flatMap((s) => s.Action));
}

/** The principals a trust policy lets assume the role, as `Type:identifier`. */
export function trustedPrincipals(trustPolicy: unknown): string[] {
  return statementsOf(trustPolicy)
    .filter((s) => s.Effect === "Allow" && s.Action.includes("sts:AssumeRole"))
    .flatMap((s) =>
      Object.entries(s.Principal ?? {}).flatMap(([type, ids]) => ids.map((id) => `${type}:${id}`)),
    )
    .sort();
}
