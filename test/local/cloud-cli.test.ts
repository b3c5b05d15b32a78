/**
 * `kiln local start --detach`, `status`, `env` and `stop` as a user runs them: separate processes
 * through bin/kiln.mjs, on ephemeral ports so this file can run beside the others.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ec2Paths } from "../../local/ec2/paths.ts";
import { findInstanceProcesses } from "../../local/ec2/process-groups.ts";
import { localCloudThreadPoolSize, readLocalCloudInfo, runningCloudPid } from "../../local/endpoints.ts";

const launcher = fileURLToPath(new URL("../../bin/kiln.mjs", import.meta.url));

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `kiln …` in its own process and resolves with its exit code and output. */
function kiln(...args: string[]): Promise<Result> {
  return new Promise((resolve) => {
    execFile(process.execPath, [launcher, ...args], { timeout: 240_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

describe("kiln local", () => {
  let stateDir: string;

  beforeAll(async () => {
    stateDir = await mkdtemp(join(tmpdir(), "kiln-cli-"));
  });

  afterAll(async () => {
    // If a test failed half-way, do not leave a cloud running.
    const pid = await runningCloudPid(stateDir);
    if (pid !== undefined) await kiln("local", "stop", "--state-dir", stateDir);
    await rm(stateDir, { recursive: true, force: true });
  });

  it("starts in the background, reports, prints its environment, refuses a second start, and stops", async () => {
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
    const info = await readLocalCloudInfo(stateDir);
    const cloudEnv = await readFile(`/proc/${info?.pid}/environ`, "utf8");
    const status = await kiln("local", "status", "--state-dir", stateDir);
    const env = await kiln("local", "env", "--state-dir", stateDir);
    const evaluated = await new Promise<string>((resolve, reject) => {
      execFile(
        "bash",
        [
          "-c",
          `eval "$(${JSON.stringify(process.execPath)} ${JSON.stringify(launcher)} local env --state-dir ${JSON.stringify(stateDir)})" && printf %s "$AWS_ENDPOINT_URL_EC2 $KILN_STATE_MACHINE_ARN"`,
        ],
        { timeout: 60_000 },
        (error, stdout) => (error === null ? resolve(stdout) : reject(error)),
      );
    });
    const again = await kiln("local", "start", "--detach", "--ports", "ephemeral", "--state-dir", stateDir);

    const stopped = await kiln("local", "stop", "--state-dir", stateDir);
    const leftovers = await findInstanceProcesses(ec2Paths(stateDir).instancesDir);
    const statusAfter = await kiln("local", "status", "--state-dir", stateDir);
    const stopAgain = await kiln("local", "stop", "--state-dir", stateDir);
    const envAfter = await kiln("local", "env", "--state-dir", stateDir);

    expect(started.code).toBe(0);
    expect(started.stdout).toContain(`pid ${info?.pid}`);
    expect(started.stdout).toContain(info?.endpoints.ec2);
    // Sized as the process started: nothing later in it could change libuv's pool.
    expect(cloudEnv.split("\0")).toContain(
      `UV_THREADPOOL_SIZE=${process.env.UV_THREADPOOL_SIZE ?? localCloudThreadPoolSize}`,
    );
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/kiln local cloud: running \(pid \d+/);
    expect(status.stdout).toMatch(/Instances\s+0/);
    expect(status.stdout).toMatch(/Groups\s+0/);
    expect(status.stdout).toMatch(/Executions\s+0/);
    expect(env.code).toBe(0);
    expect(env.stdout).toContain(`export AWS_ENDPOINT_URL_S3=${info?.endpoints.s3}\n`);
    expect(env.stdout).toContain("export AWS_ACCESS_KEY_ID=kiln-local\n");
    expect(env.stdout).toContain("export AWS_REGION=us-east-1\n");
    expect(evaluated).toBe(`${info?.endpoints.ec2} ${info?.stateMachineArn}`);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already running on .* \(pid \d+\)/);
    expect(stopped.code).toBe(0);
    expect(stopped.stdout).toContain("no instance process is running");
    expect(leftovers).toEqual([]);
    expect(statusAfter.code).toBe(3);
    expect(statusAfter.stdout).toContain("not running");
    expect(stopAgain.code).toBe(1);
    expect(stopAgain.stderr).toContain("no local cloud is running");
    expect(envAfter.code).toBe(1);
    expect(envAfter.stdout).toBe("");
  });

  it("npm start gives the local cloud's process the same thread pool", async () => {
    const manifest = JSON.parse(await readFile(new URL("../../package.json", import.meta.url), "utf8"));

    expect(manifest.scripts.start).toContain(
      `UV_THREADPOOL_SIZE=\${UV_THREADPOOL_SIZE:-${localCloudThreadPoolSize}} `,
    );
  });

  it("answers an unknown command with usage and exit code 2", async () => {
    const result = await kiln("local", "explode");

    expect(result.code).toBe(2);
    expect(result.stderr).toContain('unknown command "local explode"');
    expect(result.stderr).toContain("kiln local start");
  });
});
