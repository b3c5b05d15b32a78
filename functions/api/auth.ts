/**
 * Who is calling the operator API. On AWS, API Gateway has already checked the caller (IAM
 * SigV4, or a JWT when the stage configures an issuer) before the function runs; the function
 * reads the identity it proved, and refuses a request that came through no authorizer at all, so
 * a route wired without auth fails closed. Locally there is no authorizer: the local cloud
 * generates a bearer token at first start and the function checks it.
 */
import { timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import * as z from "zod";
import { optionalEnv } from "../environment.ts";

export interface Caller {
  kind: "token" | "iam" | "jwt";
  /** Recorded as `trigger.by` on what the caller starts. */
  id: string;
}

export type Authenticator = (request: {
  headers: Record<string, string>;
  authorizer: unknown;
}) => Caller | undefined;

export const unauthorizedMessage =
  "missing or wrong credentials: send Authorization: Bearer <token> (locally the token is in the local cloud's state folder, api-token), or sign the request with SigV4";

/** The bearer token to require, from KILN_API_TOKEN or the file KILN_API_TOKEN_FILE names; unset on AWS. */
export function configuredApiToken(): string | undefined {
  const token = optionalEnv("KILN_API_TOKEN");
  if (token !== undefined) return token;
  const file = optionalEnv("KILN_API_TOKEN_FILE");
  if (file === undefined) return undefined;
  const fromFile = readFileSync(file, "utf8").trim();
  if (fromFile === "") throw new Error(`KILN_API_TOKEN_FILE names ${file}, which is empty`);
  return fromFile;
}

const authorizerSchema = z.looseObject({
  iam: z
    .looseObject({
      userArn: z.string().optional(),
      userId: z.string().optional(),
      callerId: z.string().optional(),
    })
    .optional(),
  jwt: z.looseObject({ claims: z.record(z.string(), z.unknown()) }).optional(),
});

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function claim(claims: Record<string, unknown>, name: string): string | undefined {
  const value = claims[name];
  return typeof value === "string" && value !== "" ? value : undefined;
}

/** A bearer-token check when `token` is set, else the identity API Gateway's authorizer proved. */
export function createAuthenticator(token: string | undefined): Authenticator {
  return ({ headers, authorizer }) => {
    if (token !== undefined) {
      const match = /^Bearer\s+(\S+)\s*$/i.exec(headers.authorization ?? "");
      return match?.[1] && sameSecret(match[1], token) ? { kind: "token", id: "local operator" } : undefined;
    }
    const parsed = authorizerSchema.safeParse(authorizer);
    if (!parsed.success) return undefined;
    const { iam, jwt } = parsed.data;
    if (iam) return { kind: "iam", id: iam.userArn ?? iam.userId ?? iam.callerId ?? "IAM caller" };
    if (jwt)
      return { kind: "jwt", id: claim(jwt.claims, "email") ?? claim(jwt.claims, "sub") ?? "JWT caller" };
    return undefined;
  };
}
