/**
 * The local S3: s3rver on 127.0.0.1 with objects on disk under `<stateDir>/s3`, and its object
 * events turned into Lambda `S3Event`s exactly as AWS delivers them.
 *
 * s3rver has been unmaintained since 2021: everything that knows about it stays in this module,
 * so it can be swapped for another server behind the same `startS3` without touching callers.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import * as nodeCrypto from "node:crypto";
import { createHash, randomBytes } from "node:crypto";
import { mkdir } from "node:fs/promises";
import { createServer, type IncomingMessage } from "node:http";
import { createRequire } from "node:module";
import { join } from "node:path";
import type { S3Event, S3EventRecord } from "aws-lambda";
import * as z from "zod";
import { closeServer, type Log, listen, localCredentials, region } from "./endpoints.ts";
import { EventDelivery } from "./event-delivery.ts";

export interface S3Options {
  stateDir: string;
  port?: number;
  /** Receives each ObjectCreated event, delivered asynchronously and at least once. */
  onObjectCreated: (event: S3Event) => Promise<void>;
  log?: Log;
}

export interface LocalS3 {
  url: string;
  /** Creates a bucket unless it exists. */
  ensureBucket(name: string): Promise<void>;
  /** Resolves once every event emitted so far has been delivered (or dropped after its retries). */
  settled(): Promise<void>;
  close(): Promise<void>;
}

/** The slice of s3rver that this module uses (s3rver ships no types). */
interface S3rverApp {
  callback(): (request: IncomingMessage, response: import("node:http").ServerResponse) => void;
  on(event: "event", listener: (event: unknown) => void): void;
  store: {
    getBucket(name: string): Promise<unknown>;
    putBucket(name: string): Promise<void>;
    getMetadata(bucket: string, key: string): Promise<Record<string, unknown>>;
  };
  logger: { close(): void };
}
type S3rverConstructor = new (options: Record<string, unknown>) => S3rverApp;

const require = createRequire(import.meta.url);

/**
 * s3rver encrypts ListObjectsV2 continuation tokens with single DES, which OpenSSL 3 only offers
 * through its legacy provider. Triple DES with three equal keys is the same cipher as single DES
 * and is in the default provider, so s3rver's bucket controller gets a `crypto` that substitutes
 * it — tokens stay byte-identical and no `--openssl-legacy-provider` flag is needed.
 */
const desCompatibleCrypto = {
  ...nodeCrypto,
  createCipheriv: (algorithm: string, key: Buffer, iv: Buffer) =>
    algorithm === "des"
      ? nodeCrypto.createCipheriv("des-ede3-cbc", Buffer.concat([key, key, key]), iv)
      : nodeCrypto.createCipheriv(algorithm, key, iv),
  createDecipheriv: (algorithm: string, key: Buffer, iv: Buffer) =>
    algorithm === "des"
      ? nodeCrypto.createDecipheriv("des-ede3-cbc", Buffer.concat([key, key, key]), iv)
      : nodeCrypto.createDecipheriv(algorithm, key, iv),
};

let s3rverConstructor: S3rverConstructor | undefined;

function loadS3rver(): S3rverConstructor {
  if (s3rverConstructor !== undefined) return s3rverConstructor;
  const bucketController = join("s3rver", "lib", "controllers", "bucket.js");
  const moduleApi: {
    _load: (request: string, parent: { filename?: string } | undefined, isMain: boolean) => unknown;
  } = require("node:module");
  const originalLoad = moduleApi._load;
  // Only s3rver's bucket controller sees the substitute, and only while s3rver loads.
  moduleApi._load = function load(request, parent, isMain) {
    if (request === "crypto" && parent?.filename?.endsWith(bucketController)) return desCompatibleCrypto;
    return originalLoad.call(this, request, parent, isMain);
  };
  try {
    s3rverConstructor = require("s3rver");
  } finally {
    moduleApi._load = originalLoad;
  }
  if (s3rverConstructor === undefined) throw new Error("s3rver did not load");
  // s3rver knows one access key; the local cloud's dummy credentials are registered beside it.
  const accounts: { DUMMY_ACCOUNT: { createKeyPair(id: string, secret: string): void } } =
    require("s3rver/lib/models/account");
  accounts.DUMMY_ACCOUNT.createKeyPair(localCredentials.accessKeyId, localCredentials.secretAccessKey);
  return s3rverConstructor;
}

/** What s3rver emits for an object operation; only the fields read here are checked. */
const s3rverEventSchema = z.object({
  Records: z.array(
    z.object({
      eventName: z.string(),
      requestParameters: z.object({ sourceIPAddress: z.string().optional() }).optional(),
      s3: z.object({
        bucket: z.object({ name: z.string() }),
        object: z.object({ key: z.string(), size: z.number().optional(), eTag: z.string().optional() }),
      }),
    }),
  ),
});

/**
 * Encodes an object key as S3 writes it into event notifications: form-URL-encoding, so a space
 * becomes `+`, `/` and `-_.*` stay, and every other byte of the UTF-8 form is `%XX`.
 */
export function encodeS3EventKey(key: string): string {
  let encoded = "";
  for (const byte of Buffer.from(key, "utf8")) {
    const char = String.fromCharCode(byte);
    if (/[A-Za-z0-9\-_.*/]/.test(char)) encoded += char;
    else if (char === " ") encoded += "+";
    else encoded += `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return encoded;
}

interface RequestFacts {
  method: string;
  url: string;
  host: string;
}

let sequence = 0;

/** A sequencer as S3 issues them: hex, growing for successive events, comparable as strings. */
function nextSequencer(): string {
  sequence = (sequence + 1) % 0x10000;
  return (Date.now().toString(16) + sequence.toString(16).padStart(4, "0")).toUpperCase().padStart(16, "0");
}

function eventNameFor(s3rverName: string, request: RequestFacts | undefined): string | undefined {
  switch (s3rverName) {
    case "ObjectCreated:Put":
    case "ObjectCreated:Copy":
      return s3rverName;
    case "ObjectCreated:Post":
      // s3rver reports a completed multipart upload as a Post; the request tells them apart.
      return request !== undefined && new URL(request.url, "http://s3").searchParams.has("uploadId")
        ? "ObjectCreated:CompleteMultipartUpload"
        : "ObjectCreated:Post";
    default:
      return undefined;
  }
}

/** Starts the local S3 and returns its endpoint. */
export async function startS3(options: S3Options): Promise<LocalS3> {
  const log = options.log ?? (() => {});
  const directory = join(options.stateDir, "s3");
  await mkdir(directory, { recursive: true });
  const S3rver = loadS3rver();
  const app = new S3rver({
    silent: true,
    directory,
    // SigV2 presigned URLs would need the secret s3rver knows; the local cloud trusts its callers.
    allowMismatchedSignatures: true,
    vhostBuckets: false,
  });
  const requests = new AsyncLocalStorage<RequestFacts>();
  const delivery = new EventDelivery({ log: (line) => log(`s3: ${line}`) });

  app.on("event", (raw) => {
    const parsed = s3rverEventSchema.safeParse(raw);
    if (!parsed.success) {
      log(`s3: ignored an event of unexpected shape: ${parsed.error.message}`);
      return;
    }
    const request = requests.getStore();
    for (const record of parsed.data.Records) {
      const eventName = eventNameFor(record.eventName, request);
      if (eventName === undefined) continue;
      const { name: bucket } = record.s3.bucket;
      const { key } = record.s3.object;
      const eventTime = new Date().toISOString();
      const sequencer = nextSequencer();
      const sourceIp = record.requestParameters?.sourceIPAddress ?? "127.0.0.1";
      delivery.deliver(`${eventName} s3://${bucket}/${key}`, async () => {
        const object = await describeObject(app, bucket, key, record.s3.object);
        const event: S3Event = {
          Records: [buildRecord({ eventName, eventTime, bucket, key, sequencer, sourceIp, ...object })],
        };
        await options.onObjectCreated(event);
      });
    }
  });

  const handle = app.callback();
  const server = createServer((request, response) => {
    requests.run(
      { method: request.method ?? "GET", url: request.url ?? "/", host: request.headers.host ?? "" },
      () => handle(request, response),
    );
  });
  const url = await listen(server, options.port ?? 0, "S3");

  return {
    url,
    async ensureBucket(name) {
      if (!(await app.store.getBucket(name))) await app.store.putBucket(name);
    },
    settled: () => delivery.settled(),
    async close() {
      await closeServer(server);
      await delivery.close();
      app.logger.close();
    },
  };
}

async function describeObject(
  app: S3rverApp,
  bucket: string,
  key: string,
  reported: { size?: number | undefined; eTag?: string | undefined },
): Promise<{ size: number; eTag: string }> {
  if (reported.size !== undefined && reported.eTag !== undefined)
    return { size: reported.size, eTag: reported.eTag };
  // A copy event carries no ETag: read it from the stored object, as HeadObject would.
  const metadata = z
    .object({ etag: z.string(), "content-length": z.coerce.number() })
    .parse(await app.store.getMetadata(bucket, key));
  return { size: metadata["content-length"], eTag: metadata.etag.replace(/"/g, "") };
}

function buildRecord(facts: {
  eventName: string;
  eventTime: string;
  bucket: string;
  key: string;
  size: number;
  eTag: string;
  sequencer: string;
  sourceIp: string;
}): S3EventRecord {
  return {
    eventVersion: "2.1",
    eventSource: "aws:s3",
    awsRegion: region,
    eventTime: facts.eventTime,
    eventName: facts.eventName,
    userIdentity: { principalId: "AWS:KILNLOCAL" },
    requestParameters: { sourceIPAddress: facts.sourceIp },
    responseElements: {
      "x-amz-request-id": randomBytes(8).toString("hex").toUpperCase(),
      "x-amz-id-2": createHash("sha256").update(facts.sequencer).digest("base64"),
    },
    s3: {
      s3SchemaVersion: "1.0",
      configurationId: "kiln-local-notification",
      bucket: {
        name: facts.bucket,
        ownerIdentity: { principalId: "KILNLOCAL" },
        arn: `arn:aws:s3:::${facts.bucket}`,
      },
      object: {
        key: encodeS3EventKey(facts.key),
        size: facts.size,
        eTag: facts.eTag,
        sequencer: facts.sequencer,
      },
    },
  };
}
