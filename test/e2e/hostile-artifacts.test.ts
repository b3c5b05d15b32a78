import { readFile } from "node:fs/promises";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { ListExecutionsCommand, SFNClient } from "@aws-sdk/client-sfn";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deploymentIdForObject } from "../../core/deployment-id.ts";
import { corpusLimits, corpusPath, corpusService, hostileArtifacts } from "../fixtures/artifacts/corpus.ts";
import { type KilnCloud, startKilnCloud } from "../support/kiln-cloud.ts";

let kiln: KilnCloud;
const rejectedByDeployedKiln = hostileArtifacts.filter((artifact) => artifact.rejectedUnderDefaultLimits);

beforeAll(async () => {
  // The one artifact limit a deployed Kiln can set: small, so the oversize artifact stays small.
  process.env.KILN_MAX_ARTIFACT_BYTES = String(corpusLimits.maxBytes);
  kiln = await startKilnCloud();
  await kiln.registerService(corpusService);
});

afterAll(async () => {
  await kiln?.stop();
});

describe("hostile artifacts uploaded to the bucket", () => {
  it.each(rejectedByDeployedKiln.map((artifact) => [artifact.file, artifact] as const))(
    "%s is REJECTED with a reason a person understands, and nothing is launched",
    async (_file, artifact) => {
      const put = await kiln.s3.send(
        new PutObjectCommand({
          Bucket: kiln.bucket,
          Key: artifact.key,
          Body: await readFile(corpusPath(artifact.file)),
        }),
      );
      const id = deploymentIdForObject({ bucket: kiln.bucket, key: artifact.key, etag: put.ETag });

      const deployment = await kiln.waitFor(id);

      expect(deployment.status).toBe("REJECTED");
      expect(deployment.error?.message).toContain(artifact.reason);
      expect(deployment.steps).toEqual({});
      const executions = await new SFNClient({}).send(
        new ListExecutionsCommand({ stateMachineArn: kiln.cloud.stateMachineArn }),
      );
      expect((executions.executions ?? []).map((execution) => execution.name)).not.toContain(id);
      expect(await kiln.liveInstances({ "kiln:service": corpusService })).toEqual([]);
    },
  );

  it("tells the team about each rejection on Slack", async () => {
    await kiln.cloud.settled();
    const { readdir } = await import("node:fs/promises");
    const messages = await readdir(`${kiln.cloud.stateDir}/notifications/slack`);
    expect(messages.length).toBeGreaterThanOrEqual(rejectedByDeployedKiln.length);
  });
});
