/**
 * The local cloud as a person meets it: `npm start` runs its demo deployment to the end, and a
 * cloud started with `kiln local start --detach` leaves no instance process behind once stopped.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { DescribeInstancesCommand, EC2Client, RunInstancesCommand } from "@aws-sdk/client-ec2";
import { afterAll, describe, expect, it } from "vitest";
import { ec2Paths } from "../../local/ec2/paths.ts";
import { findInstanceProcesses } from "../../local/ec2/process-groups.ts";
import { readLocalCloudInfo, runningCloudPid } from "../../local/endpoints.ts";

const repo = fileURLToPath(new URL("../../", import.meta.url));
const stateDirs: string[] = [];

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], timeoutMs = 240_000): Promise<Result> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      { cwd: repo, timeout: timeoutMs, env: { ...process.env, FORCE_COLOR: "0" } },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : 1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

const kiln = (...args: string[]) => run(process.execPath, [join(repo, "bin/kiln.mjs"), ...args]);

async function tempStateDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "kiln-lifecycle-"));
  stateDirs.push(dir);
  return dir;
}

afterAll(async () => {
  for (const dir of stateDirs) {
    if ((await runningCloudPid(dir)) !== undefined) await kiln("local", "stop", "--state-dir", dir);
    await rm(dir, { recursive: true, force: true });
  }
});

/** User data for an instance that runs one long-lived service process, as a baked image would. */
const longLivedService = `#!/bin/bash
set -e
mkdir -p "$KILN_INSTANCE_ROOT/opt/app" "$KILN_INSTANCE_ROOT/etc/systemd/system/multi-user.target.wants"
printf '#!/bin/sh\\nexec sleep 600\\n' > "$KILN_INSTANCE_ROOT/opt/app/run"
chmod 755 "$KILN_INSTANCE_ROOT/opt/app/run"
printf '[Service]\\nExecStart=/opt/app/run\\n' > "$KILN_INSTANCE_ROOT/etc/systemd/system/app.service"
ln -s ../app.service "$KILN_INSTANCE_ROOT/etc/systemd/system/multi-user.target.wants/app.service"
`;

describe("npm start", () => {
  it("deploys hello-service's next version to a group of three and says where to look", async () => {
    const stateDir = await tempStateDir();

    const result = await run("npx", [
      "tsx",
      "local/main.ts",
      "--once",
      "--ports",
      "ephemeral",
      "--state-dir",
      stateDir,
    ]);

    expect(result.stderr).not.toContain("kiln:");
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("Deployed hello-service 1.0.1 (SUCCEEDED)");
    expect(result.stdout.match(/→ hello from hello-service 1\.0\.1/g)).toHaveLength(3);
    expect(result.stdout).toContain("Where to look");
    expect(await findInstanceProcesses(ec2Paths(stateDir).instancesDir)).toEqual([]);
  });
});

describe("kiln local stop", () => {
  it("ends every instance process of a detached local cloud", async () => {
    const stateDir = await tempStateDir();
    const started = await kiln(
      "local",
      "start",
      "--detach",
      "--ports",
      "ephemeral",
      "--timescale",
      "0",
      "--state-dir",
      stateDir,
    );
    expect(started.code).toBe(0);
    const info = await readLocalCloudInfo(stateDir);
    const ec2 = new EC2Client({
      endpoint: info?.endpoints.ec2,
      region: "us-east-1",
      credentials: { accessKeyId: "kiln-local", secretAccessKey: "kiln-local-secret" },
    });
    const launched = await ec2.send(
      new RunInstancesCommand({
        ImageId: info?.baseImageId,
        InstanceType: "t3.nano",
        MinCount: 2,
        MaxCount: 2,
        UserData: Buffer.from(longLivedService).toString("base64"),
      }),
    );
    const ids = (launched.Instances ?? []).map((instance) => instance.InstanceId ?? "");
    for (let attempt = 0; attempt < 100; attempt += 1) {
      const running = (await findInstanceProcesses(ec2Paths(stateDir).instancesDir)).length;
      if (running >= 2) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const before = await findInstanceProcesses(ec2Paths(stateDir).instancesDir);
    const described = await ec2.send(new DescribeInstancesCommand({ InstanceIds: ids }));

    const stopped = await kiln("local", "stop", "--state-dir", stateDir);

    expect(
      described.Reservations?.flatMap((reservation) => reservation.Instances ?? []).map(
        (instance) => instance.State?.Name,
      ),
    ).toEqual(["running", "running"]);
    expect(before.length).toBeGreaterThanOrEqual(2);
    expect(stopped.code).toBe(0);
    expect(await findInstanceProcesses(ec2Paths(stateDir).instancesDir)).toEqual([]);
    expect(await runningCloudPid(stateDir)).toBeUndefined();
  });
});
