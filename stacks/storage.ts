import { historyTableDefinition, historyTableTtlAttribute } from "../core/aws/history-table.ts";
import type { KilnSettings } from "./settings.ts";

/** The key prefix every artifact lives under: `artifacts/<service>/<version>.tgz`. */
export const artifactPrefix = "artifacts/";

function keyOf(
  schema: ReadonlyArray<{ AttributeName: string; KeyType: string }>,
  type: "HASH" | "RANGE",
): string {
  const key = schema.find((k) => k.KeyType === type)?.AttributeName;
  if (!key) throw new Error(`the history table definition has no ${type} key`);
  return key;
}

/** The artifacts bucket and the history table. */
export function createStorage(settings: KilnSettings, account: $util.Input<string>) {
  // Bucket ARNs name no account, and a deleted bucket's name can be taken by another account:
  // S3 may invoke Kiln's functions only for buckets this account owns.
  $transform(aws.lambda.Permission, (args) => {
    if (args.principal === "s3.amazonaws.com") args.sourceAccount = account;
  });

  const artifacts = new sst.aws.Bucket("Artifacts", {
    // Deployment ids are derived from the object's version id, so a re-upload of the same key is a
    // new deployment and the replaced artifact stays readable for a rollback investigation.
    versioning: true,
    enforceHttps: true,
    // Uploads come from the CLI and CI with presigned URLs, never from a browser.
    cors: false,
    transform: {
      // The stage that retains its data must not be emptied by a removal.
      bucket: { forceDestroy: !settings.production },
      publicAccessBlock: {
        blockPublicAcls: true,
        blockPublicPolicy: true,
        ignorePublicAcls: true,
        restrictPublicBuckets: true,
      },
    },
  });

  new aws.s3.BucketServerSideEncryptionConfiguration("ArtifactsEncryption", {
    bucket: artifacts.name,
    rules: [
      {
        applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" },
        bucketKeyEnabled: true,
      },
    ],
  });

  new aws.s3.BucketLifecycleConfiguration("ArtifactsLifecycle", {
    bucket: artifacts.name,
    rules: [
      {
        id: "old-artifact-versions",
        status: "Enabled",
        filter: { prefix: artifactPrefix },
        noncurrentVersionExpiration: { noncurrentDays: settings.noncurrentArtifactDays },
        abortIncompleteMultipartUpload: { daysAfterInitiation: 7 },
        ...(settings.artifactExpiryDays > 0 ? { expiration: { days: settings.artifactExpiryDays } } : {}),
      },
      {
        // Expired versions leave delete markers behind; without this rule they pile up forever.
        id: "expired-delete-markers",
        status: "Enabled",
        filter: { prefix: artifactPrefix },
        expiration: { expiredObjectDeleteMarker: true },
      },
    ],
  });

  // The table is built from the same definition the local cloud creates its table with.
  const table = historyTableDefinition("history");
  const history = new sst.aws.Dynamo("History", {
    fields: Object.fromEntries(table.AttributeDefinitions.map((a) => [a.AttributeName, "string" as const])),
    primaryIndex: { hashKey: keyOf(table.KeySchema, "HASH"), rangeKey: keyOf(table.KeySchema, "RANGE") },
    globalIndexes: Object.fromEntries(
      table.GlobalSecondaryIndexes.map((index) => [
        index.IndexName,
        {
          hashKey: keyOf(index.KeySchema, "HASH"),
          rangeKey: keyOf(index.KeySchema, "RANGE"),
          projection: "all" as const,
        },
      ]),
    ),
    // Watchers of paused deployments (core/aws/dynamo-watcher-registry.ts) expire by themselves.
    ttl: historyTableTtlAttribute,
    deletionProtection: settings.production,
    // SST turns it on today; stating it keeps a component upgrade from silently dropping it.
    transform: { table: { pointInTimeRecovery: { enabled: true } } },
  });

  return { artifacts, history };
}
