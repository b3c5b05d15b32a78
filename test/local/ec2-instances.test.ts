/**
 * Instances are real: user data runs in the instance root, enabled units serve HTTP on the
 * instance's own loopback address, the shutdown shim stops a builder, images carry the builder's
 * files, and no process outlives the emulator. This is the contract Kiln's bake relies on.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { lstat, mkdtemp, readdir, readFile, readlink, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CreateImageCommand,
  DescribeImagesCommand,
  DescribeInstanceStatusCommand,
  DescribeInstancesCommand,
  EC2Client,
  GetConsoleOutputCommand,
  type Instance,
  RunInstancesCommand,
  StartInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
} from "@aws-sdk/client-ec2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Ec2Emulator, startEc2Emulator } from "../../local/ec2/server.ts";
import { FaultInjector } from "../../local/faults.ts";
import { Timescale } from "../../local/timescale.ts";

const credentials = { accessKeyId: "AKIDLOCAL", secretAccessKey: "local-secret" };
/** Background work (boot, stop grace, snapshot) on a busy machine can take seconds. */
const eventually = { timeout: 30_000, interval: 25 };
const APP_PORT = 18080;

let stateDir: string;
let emulator: Ec2Emulator;
let ec2: EC2Client;
let faults: FaultInjector;
let baseImage: string;
const logLines: string[] = [];

async function startEmulator(): Promise<void> {
  faults = new FaultInjector();
  emulator = await startEc2Emulator({
    stateDir,
    timescale: Timescale.instant(),
    faults,
    log: (line) => logLines.push(line),
  });
  ec2 = new EC2Client({ endpoint: emulator.url, region: "us-east-1", credentials, maxAttempts: 1 });
}

beforeAll(async () => {
  stateDir = await mkdtemp(join(tmpdir(), "kiln-ec2-instances-"));
  await startEmulator();
  baseImage = await emulator.ensureBaseImage();
});

afterAll(async () => {
  await emulator?.close();
  await rm(stateDir, { recursive: true, force: true });
});

function instanceRoot(instanceId: string): string {
  return join(stateDir, "ec2", "instances", instanceId, "root");
}

async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, what: string): Promise<T> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline)
      throw new Error(`gave up waiting for ${what} (last seen: ${JSON.stringify(value)})`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

async function describe1(instanceId: string): Promise<Instance> {
  const result = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
  const instance = result.Reservations?.[0]?.Instances?.[0];
  if (instance === undefined) throw new Error(`${instanceId} is not described`);
  return instance;
}

async function untilState(instanceId: string, state: string): Promise<Instance> {
  return until(
    () => describe1(instanceId),
    (instance) => instance.State?.Name === state,
    `${instanceId} to be ${state}`,
  );
}

async function instanceStatus(instanceId: string): Promise<string | undefined> {
  const result = await ec2.send(new DescribeInstanceStatusCommand({ InstanceIds: [instanceId] }));
  return result.InstanceStatuses?.[0]?.InstanceStatus?.Status;
}

interface AppAnswer {
  host: string;
  pid: number;
  root: string;
  greeting: string;
}

async function askApp(address: string): Promise<AppAnswer> {
  const response = await fetch(`http://${address}:${APP_PORT}/`);
  const body: unknown = await response.json();
  if (typeof body !== "object" || body === null) throw new Error("the app did not answer JSON");
  return {
    host: String(Reflect.get(body, "host")),
    pid: Number(Reflect.get(body, "pid")),
    root: String(Reflect.get(body, "root")),
    greeting: String(Reflect.get(body, "greeting")),
  };
}

async function appAnswers(address: string): Promise<AppAnswer> {
  return until(
    () => askApp(address).catch(() => undefined),
    (answer) => answer !== undefined,
    `the app on ${address}`,
  ).then((answer) => {
    if (answer === undefined) throw new Error("unreachable");
    return answer;
  });
}

/** Pids of live processes whose environment places them inside this test's instances. */
async function instanceProcesses(): Promise<number[]> {
  const marker = `KILN_INSTANCE_ROOT=${join(stateDir, "ec2", "instances")}/`;
  const pids: number[] = [];
  for (const entry of existsSync("/proc") ? await readdir("/proc") : []) {
    if (!/^\d+$/.test(entry)) continue;
    const environ = await readFile(`/proc/${entry}/environ`, "latin1").catch(() => "");
    const stat = await readFile(`/proc/${entry}/stat`, "latin1").catch(() => "");
    const zombie = stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
    if (environ.split("\0").some((variable) => variable.startsWith(marker)) && !zombie)
      pids.push(Number(entry));
  }
  return pids;
}

function groupIsGone(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return false;
  } catch (error) {
    return error instanceof Error && "code" in error && error.code === "ESRCH";
  }
}

/** A bake as Kiln's user data does it: install the app, register its unit, power off. */
const bakeUserData = `#!/bin/bash
set -euo pipefail
echo "baking in $PWD"
printf '%s\\n' "$KILN_INSTANCE_ROOT" > installed-by-user-data
echo ran >> user-data-runs
mkdir -p opt/app etc/systemd/system
cat > opt/app/server.js <<'JS'
const http = require("node:http");
require("node:fs").appendFileSync("starts", "start\\n");
http
  .createServer((request, response) =>
    response.end(JSON.stringify({ host: process.env.HOST, pid: process.pid, root: process.env.KILN_INSTANCE_ROOT, greeting: process.env.GREETING })),
  )
  .listen(${APP_PORT}, process.env.HOST);
JS
cat > etc/systemd/system/app.service <<UNIT
[Unit]
Description=the baked app

[Service]
WorkingDirectory=/opt/app
Environment="GREETING=hello from the unit"
ExecStart=${process.execPath} server.js

[Install]
WantedBy=multi-user.target
UNIT
systemctl enable app.service
shutdown -h now
`;

describe("a bake on the local EC2", () => {
  let builderId: string;
  let imageId: string;
  let servers: Instance[];

  beforeAll(async () => {
    const { Instances } = await ec2.send(
      new RunInstancesCommand({
        ImageId: baseImage,
        InstanceType: "t3.micro",
        MinCount: 1,
        MaxCount: 1,
        UserData: Buffer.from(bakeUserData).toString("base64"),
        TagSpecifications: [{ ResourceType: "instance", Tags: [{ Key: "kiln:role", Value: "builder" }] }],
      }),
    );
    builderId = Instances?.[0]?.InstanceId ?? "";
  });

  it("runs user data once, in the instance root, with KILN_INSTANCE_ROOT set", async () => {
    await untilState(builderId, "stopped");

    const root = instanceRoot(builderId);
    expect((await readFile(join(root, "installed-by-user-data"), "utf8")).trim()).toBe(root);
    expect(await readFile(join(root, "user-data-runs"), "utf8")).toBe("ran\n");
    expect(await readlink(join(root, "etc/systemd/system/multi-user.target.wants/app.service"))).toBe(
      "/etc/systemd/system/app.service",
    );
  });

  it("stops the builder when its user data runs the shutdown shim, before any unit starts", async () => {
    const builder = await untilState(builderId, "stopped");

    expect(builder.StateReason?.Code).toBe("Client.InstanceInitiatedShutdown");
    expect(existsSync(join(instanceRoot(builderId), "opt/app/starts"))).toBe(false);
  });

  it("makes an image from the stopped builder that carries its files and links", async () => {
    const created = await ec2.send(new CreateImageCommand({ InstanceId: builderId, Name: "svc-app-bake" }));
    imageId = created.ImageId ?? "";
    await until(
      async () => (await ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] }))).Images?.[0]?.State,
      (state) => state === "available",
      "the baked image",
    );

    const imageRoot = join(stateDir, "ec2", "images", imageId, "root");
    expect(await readFile(join(imageRoot, "opt/app/server.js"), "utf8")).toContain("createServer");
    const link = join(imageRoot, "etc/systemd/system/multi-user.target.wants/app.service");
    expect((await lstat(link)).isSymbolicLink()).toBe(true);
    expect(await readlink(link)).toBe("/etc/systemd/system/app.service");
  });

  it("starts the unit on each instance's own address from the image, without running user data again", async () => {
    const { Instances } = await ec2.send(
      new RunInstancesCommand({ ImageId: imageId, InstanceType: "t3.micro", MinCount: 2, MaxCount: 2 }),
    );
    servers = Instances ?? [];
    const [first, second] = servers;
    if (first?.PrivateIpAddress === undefined || second?.PrivateIpAddress === undefined)
      throw new Error("no addresses");

    const answers = await Promise.all(servers.map((server) => appAnswers(server.PrivateIpAddress ?? "")));

    expect(answers.map((answer) => answer.host)).toEqual([first.PrivateIpAddress, second.PrivateIpAddress]);
    expect(answers[0]?.root).toBe(instanceRoot(first.InstanceId ?? ""));
    expect(answers[0]?.greeting).toBe("hello from the unit");
    expect(answers[0]?.pid).not.toBe(answers[1]?.pid);
    expect(await readFile(join(instanceRoot(first.InstanceId ?? ""), "user-data-runs"), "utf8")).toBe(
      "ran\n",
    );
    await expect.poll(() => instanceStatus(first.InstanceId ?? ""), eventually).toBe("ok");
  });

  it("puts the unit under its instance type's memory limit, or says why limits are not enforced", async () => {
    const address = servers[0]?.PrivateIpAddress ?? "";
    const { pid } = await appAnswers(address);
    const summary = logLines.find((line) => line.includes("limits are"));

    if (summary?.includes("enforced with cgroup v1")) {
      const memoryPath =
        (await readFile(`/proc/${pid}/cgroup`, "utf8"))
          .split("\n")
          .find((line) => /^\d+:memory:/.test(line))
          ?.split(":")[2] ?? "";
      const limit = await readFile(
        join("/sys/fs/cgroup/memory", memoryPath, "memory.limit_in_bytes"),
        "utf8",
      );
      expect(memoryPath.endsWith(`/kiln-ec2/${servers[0]?.InstanceId}`)).toBe(true);
      expect(Number(limit)).toBe(1024 * 1024 * 1024);
    } else {
      expect(summary).toMatch(/limits are (enforced with cgroup v2|not enforced: .+)/);
    }
  });

  it("boots the unit again after a stop and start", async () => {
    const server = servers[1];
    const address = server?.PrivateIpAddress ?? "";
    const before = await appAnswers(address);

    await ec2.send(new StopInstancesCommand({ InstanceIds: [server?.InstanceId ?? ""] }));
    await untilState(server?.InstanceId ?? "", "stopped");
    expect(groupIsGone(before.pid)).toBe(true);
    await ec2.send(new StartInstancesCommand({ InstanceIds: [server?.InstanceId ?? ""] }));
    await untilState(server?.InstanceId ?? "", "running");
    const after = await appAnswers(address);

    expect(after.pid).not.toBe(before.pid);
    expect(await readFile(join(instanceRoot(server?.InstanceId ?? ""), "opt/app/starts"), "utf8")).toBe(
      "start\nstart\n",
    );
  });

  it("ends the instance's process group when it is terminated", async () => {
    const server = servers[0];
    const { pid } = await appAnswers(server?.PrivateIpAddress ?? "");

    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [server?.InstanceId ?? ""] }));
    await untilState(server?.InstanceId ?? "", "terminated");

    await expect.poll(() => groupIsGone(pid), eventually).toBe(true);
    expect(() => process.kill(-pid, 0)).toThrow(expect.objectContaining({ code: "ESRCH" }));
  });

  it("images a running instance without losing its service, pausing it during the copy", async () => {
    const server = servers[1];
    const address = server?.PrivateIpAddress ?? "";
    const before = await appAnswers(address);

    const { ImageId } = await ec2.send(
      new CreateImageCommand({ InstanceId: server?.InstanceId ?? "", Name: "svc-app-live" }),
    );
    await until(
      async () =>
        (await ec2.send(new DescribeImagesCommand({ ImageIds: [ImageId ?? ""] }))).Images?.[0]?.State,
      (state) => state === "available",
      "the live image",
    );

    expect((await appAnswers(address)).pid).toBe(before.pid);
    expect(existsSync(join(stateDir, "ec2", "images", ImageId ?? "", "root", "opt/app/server.js"))).toBe(
      true,
    );
  });

  it("skips user data when an ec2:bake fault is taken, leaving the instance running", async () => {
    faults.add({
      operation: "ec2:bake",
      kind: "fail",
      match: "doomed-bake",
      message: "artifact checksum mismatch",
      times: 1,
    });

    const { Instances } = await ec2.send(
      new RunInstancesCommand({
        ImageId: baseImage,
        MinCount: 1,
        MaxCount: 1,
        InstanceType: "t3.nano",
        UserData: Buffer.from("#!/bin/bash\necho ran > user-data-runs\nshutdown -h now\n").toString("base64"),
        TagSpecifications: [
          { ResourceType: "instance", Tags: [{ Key: "kiln:deployment", Value: "doomed-bake" }] },
        ],
      }),
    );
    const instanceId = Instances?.[0]?.InstanceId ?? "";

    await expect.poll(() => instanceStatus(instanceId), eventually).toBe("ok");
    const output = await ec2.send(new GetConsoleOutputCommand({ InstanceId: instanceId }));
    expect(Buffer.from(output.Output ?? "", "base64").toString()).toContain("artifact checksum mismatch");
    expect(existsSync(join(instanceRoot(instanceId), "user-data-runs"))).toBe(false);
    expect((await describe1(instanceId)).State?.Name).toBe("running");
  });

  let impairedId: string;

  it("reports an instance impaired, and still running, once one of its units exits", async () => {
    const failing = `#!/bin/bash
echo ran >> user-data-runs
mkdir -p etc/systemd/system/multi-user.target.wants
printf '[Service]\\nExecStart=/bin/sh -c "echo giving up; exit 3"\\n' > etc/systemd/system/quitter.service
ln -s /etc/systemd/system/quitter.service etc/systemd/system/multi-user.target.wants/quitter.service
`;
    const { Instances } = await ec2.send(
      new RunInstancesCommand({
        ImageId: baseImage,
        MinCount: 1,
        MaxCount: 1,
        InstanceType: "t3.nano",
        UserData: Buffer.from(failing).toString("base64"),
      }),
    );
    impairedId = Instances?.[0]?.InstanceId ?? "";

    await expect.poll(() => instanceStatus(impairedId), eventually).toBe("impaired");
    expect((await describe1(impairedId)).State?.Name).toBe("running");
  });

  it("ends every instance process on close, and a restart boots running instances again and keeps images", async () => {
    const server = servers[1];
    const address = server?.PrivateIpAddress ?? "";
    const before = await appAnswers(address);

    await emulator.close();

    expect(groupIsGone(before.pid)).toBe(true);
    expect(await instanceProcesses()).toEqual([]);
    // A process left behind by a crashed emulator: the next start must end it.
    const stray = spawn("sleep", ["300"], {
      detached: true,
      stdio: "ignore",
      env: { ...process.env, KILN_INSTANCE_ROOT: instanceRoot(server?.InstanceId ?? "") },
    });
    const strayPid = stray.pid ?? 0;
    stray.unref();

    await startEmulator();

    await expect.poll(() => groupIsGone(strayPid), eventually).toBe(true);
    const after = await appAnswers(address);
    expect(after.pid).not.toBe(before.pid);
    expect(after.host).toBe(address);
    expect(await emulator.ensureBaseImage()).toBe(baseImage);
    const images = await ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] }));
    expect(images.Images?.[0]?.State).toBe("available");
    expect((await describe1(builderId)).State?.Name).toBe("stopped");
    await expect.poll(() => instanceStatus(impairedId), eventually).toBe("impaired");
    expect(await readFile(join(instanceRoot(impairedId), "user-data-runs"), "utf8")).toBe("ran\n");
  });
});
