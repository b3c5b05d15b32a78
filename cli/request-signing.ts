/**
 * SigV4 for the operator API on AWS: API Gateway's IAM auth checks the signature before the
 * function runs, so the CLI signs each request (service `execute-api`) with the caller's own AWS
 * credentials, found the way the AWS SDK finds them (environment, profile, SSO, instance role).
 */
import { createHash, createHmac, type Hash, type Hmac } from "node:crypto";
import { SFNClient } from "@aws-sdk/client-sfn";
import { SignatureV4 } from "@smithy/signature-v4";
import type { AwsCredentialIdentity } from "@smithy/types";

/** SHA-256 (or its HMAC, given a secret) from node:crypto, in the shape the signer wants. */
class NodeSha256 {
  private readonly hash: Hash | Hmac;

  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash = secret === undefined ? createHash("sha256") : createHmac("sha256", toBuffer(secret));
  }

  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.hash.update(toBuffer(data));
  }

  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
}

function toBuffer(data: string | ArrayBuffer | ArrayBufferView): Buffer {
  if (typeof data === "string") return Buffer.from(data, "utf8");
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
}

export type CredentialSource = () => Promise<AwsCredentialIdentity>;

/** The caller's credentials as the SDK's default chain resolves them. */
export const defaultCredentials: CredentialSource = async () => {
  // Any SDK client resolves the default chain; this one is only asked for its credentials.
  const client = new SFNClient({});
  try {
    return await client.config.credentials();
  } finally {
    client.destroy();
  }
};

/** The region an execute-api URL names (`<id>.execute-api.<region>.amazonaws.com`), if it names one. */
export function regionOfApiUrl(url: string): string | undefined {
  return /\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$/.exec(new URL(url).hostname)?.[1];
}

export interface SignableRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string | undefined;
}

/** The headers to send with `request`, signed for API Gateway in `region`. */
export async function signedHeaders(
  request: SignableRequest,
  region: string,
  credentials: CredentialSource,
  signingDate?: Date,
): Promise<Record<string, string>> {
  const url = new URL(request.url);
  const signer = new SignatureV4({ service: "execute-api", region, credentials, sha256: NodeSha256 });
  const query: Record<string, string> = {};
  for (const [name, value] of url.searchParams) query[name] = value;
  const signed = await signer.sign(
    {
      method: request.method,
      protocol: url.protocol,
      hostname: url.hostname,
      port: url.port === "" ? undefined : Number(url.port),
      path: url.pathname,
      query,
      headers: { ...request.headers, host: url.host },
      body: request.body,
    },
    signingDate ? { signingDate } : {},
  );
  return Object.fromEntries(Object.entries(signed.headers).map(([name, value]) => [name, String(value)]));
}
