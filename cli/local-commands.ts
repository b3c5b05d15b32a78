/**
 * `kiln local …`: run the local cloud in the foreground or in the background, stop it, see what
 * it runs, and point the AWS CLI at it (`eval "$(npx kiln local env)"`).
 */
import { spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { mkdir, readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type ParseArgsConfig, parseArgs } from "node:util";
import { AutoScalingClient, paginateDescribeAutoScalingGroups } from "@aws-sdk/client-auto-scaling";
import { EC2Client, paginateDescribeInstances } from "@aws-sdk/client-ec2";
import { paginateListExecutions, SFNClient } from "@aws-sdk/client-sfn";
import { ec2Paths } from "../local/ec2/paths.ts";
import { endProcessGroups, findInstanceProcesses } from "../local/ec2/process-groups.ts";
import {
  isProcessAlive,
  type LocalCloudInfo,
  localCloudProcessEnv,
  localCredentials,
  readLocalCloudInfo,
  region,
  runningCloudPid,
} from "../local/endpoints.ts";
import { listOutbox, listSlackMessages } from "../local/notification-sinks/index.ts";
import { Timescale } from "../local/timescale.ts";
import { CliError, type CliIo, type CommandGroup } from "./cli-command.ts";

const repositoryRoot = fileURLToPath(new URL("..", import.meta.url));
const launcher = join(repositoryRoot, "bin", "kiln.mjs");

/** `--state-dir`, else `KILN_LOCAL_STATE_DIR`, else `.kiln/local` in the repository. */
export function stateDirFrom(given: string | undefined): string {
  return resolve(given ?? process.env.KILN_LOCAL_STATE_DIR ?? join(repositoryRoot, ".kiln", "local"));
}

const stateDirOption = { "state-dir": { type: "string" } } as const;

function parse<T extends NonNullable<ParseArgsConfig["options"]>>(args: string[], options: T) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false }).values;
  } catch (error) {
    throw new CliError(error instanceof Error ? error.message : String(error), 2);
  }
}

function numberOption(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed < 0)
    throw new CliError(`--${name} must be a number ≥ 0, got "${value}"`, 2);
  return parsed;
}

function portsOption(value: string | undefined): "fixed" | "ephemeral" {
  if (value === undefined || value === "fixed" || value === "ephemeral") return value ?? "fixed";
  throw new CliError(`--ports must be fixed or ephemeral, got "${value}"`, 2);
}

function notRunning(stateDir: string): CliError {
  return new CliError(
    `no local cloud is running on ${stateDir} — start one with \`npx kiln local start --detach\``,
  );
}

function printEndpoints(info: LocalCloudInfo, out: CliIo["out"]): void {
  const rows: [string, string][] = [
    ["S3", info.endpoints.s3],
    ["DynamoDB", info.endpoints.dynamodb],
    ["Step Functions", info.endpoints.stepFunctions],
    ["EC2", info.endpoints.ec2],
    ["Auto Scaling", info.endpoints.autoScaling],
    ["HTTP API", info.endpoints.httpApi],
    ["Slack webhook", info.slackWebhookUrl],
    ["SES", info.endpoints.ses],
    ["Email outbox", info.outboxDir],
    ["Slack messages", info.slackMessagesDir],
    ["Base image", info.baseImageId],
    ["State machine", info.stateMachineArn],
  ];
  for (const [name, value] of rows) out(`  ${name.padEnd(15)} ${value}`);
}

/** Shell-quotes a value for an `export` line. */
function shellQuote(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

async function runForeground(
  stateDir: string,
  values: { ports: "fixed" | "ephemeral"; timescale: number; waitScale: number },
  io: CliIo,
): Promise<number> {
  // Loaded here: the other commands need none of the servers.
  const { startLocalCloud } = await import("../local/cloud.ts");
  const stamp = () => new Date().toISOString().slice(11, 23);
  const cloud = await startLocalCloud({
    stateDir,
    ports: values.ports,
    timescale: new Timescale(values.timescale),
    waitScale: values.waitScale,
    log: (line) => io.out(`${stamp()} ${line}`),
  });
  const info = await readLocalCloudInfo(stateDir);
  io.out("kiln local cloud is running:");
  if (info !== undefined) printEndpoints(info, io.out);
  io.out(
    'Point the AWS CLI at it with: eval "$(npx kiln local env)". Stop with Ctrl-C or `npx kiln local stop`.',
  );

  await new Promise<void>((resolveStop) => {
    for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.once(signal, () => resolveStop());
  });
  io.out(`${stamp()} stopping…`);
  // Under `npm start` one Ctrl-C arrives twice (the terminal's and npm's forwarded copy): only a
  // Ctrl-C pressed a while later means "stop now, without cleaning up".
  const stoppingSince = Date.now();
  process.on("SIGINT", () => {
    if (Date.now() - stoppingSince < 1500) return;
    io.err("kiln: stopped without cleaning up (second Ctrl-C)");
    process.exit(130);
  });
  await cloud.stop();
  // Nothing should be left to keep the process alive; if something is, do not hang on it.
  setTimeout(() => process.exit(0), 2000).unref();
  return 0;
}

async function runDetached(
  stateDir: string,
  values: { ports: "fixed" | "ephemeral"; timescale: number; waitScale: number },
  io: CliIo,
): Promise<number> {
  await mkdir(stateDir, { recursive: true });
  const logFile = join(stateDir, "cloud.log");
  const output = openSync(logFile, "a");
  const child = spawn(
    process.execPath,
    [
      launcher,
      "local",
      "start",
      "--state-dir",
      stateDir,
      "--ports",
      values.ports,
      "--timescale",
      String(values.timescale),
      "--wait-scale",
      String(values.waitScale),
    ],
    { detached: true, stdio: ["ignore", output, output], env: localCloudProcessEnv(process.env) },
  );
  closeSync(output);
  const childPid = child.pid;
  if (childPid === undefined) throw new CliError("could not start the local cloud process");
  let exited: number | null | undefined;
  child.once("exit", (code) => {
    exited = code;
  });
  child.unref();

  const deadline = Date.now() + 180_000;
  while (Date.now() < deadline) {
    const info = await readLocalCloudInfo(stateDir).catch(() => undefined);
    if (info?.pid === childPid) {
      io.out(`kiln local cloud is running in the background (pid ${childPid}, output in ${logFile}):`);
      printEndpoints(info, io.out);
      io.out(
        'Point the AWS CLI at it with: eval "$(npx kiln local env)". Stop it with `npx kiln local stop`.',
      );
      return 0;
    }
    if (exited !== undefined || !isProcessAlive(childPid)) {
      const tail = (await readFile(logFile, "utf8").catch(() => "")).trim().split("\n").slice(-15).join("\n");
      throw new CliError(`the local cloud did not start (see ${logFile}):\n${tail}`);
    }
    await new Promise((resolveWait) => setTimeout(resolveWait, 100));
  }
  throw new CliError(`the local cloud did not become ready within 3 minutes (see ${logFile})`);
}

async function waitForExit(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!isProcessAlive(pid)) return true;
    await new Promise((resolveWait) => setTimeout(resolveWait, 100));
  }
  return !isProcessAlive(pid);
}

async function countInstances(info: LocalCloudInfo): Promise<Map<string, number>> {
  const client = new EC2Client({ endpoint: info.endpoints.ec2, region, credentials: localCredentials });
  const counts = new Map<string, number>();
  try {
    for await (const page of paginateDescribeInstances({ client }, {})) {
      for (const reservation of page.Reservations ?? []) {
        for (const instance of reservation.Instances ?? []) {
          const state = instance.State?.Name ?? "unknown";
          counts.set(state, (counts.get(state) ?? 0) + 1);
        }
      }
    }
  } finally {
    client.destroy();
  }
  return counts;
}

async function countGroups(info: LocalCloudInfo): Promise<number> {
  const client = new AutoScalingClient({
    endpoint: info.endpoints.autoScaling,
    region,
    credentials: localCredentials,
  });
  let groups = 0;
  try {
    for await (const page of paginateDescribeAutoScalingGroups({ client }, {}))
      groups += page.AutoScalingGroups?.length ?? 0;
  } finally {
    client.destroy();
  }
  return groups;
}

async function countExecutions(info: LocalCloudInfo): Promise<Map<string, number>> {
  const client = new SFNClient({
    endpoint: info.endpoints.stepFunctions,
    region,
    credentials: localCredentials,
  });
  const counts = new Map<string, number>();
  try {
    for await (const page of paginateListExecutions({ client }, { stateMachineArn: info.stateMachineArn })) {
      for (const execution of page.executions ?? []) {
        const status = execution.status ?? "UNKNOWN";
        counts.set(status, (counts.get(status) ?? 0) + 1);
      }
    }
  } catch (error) {
    // Before the deploy workflow exists there is no state machine to list.
    if (!(error instanceof Error && error.name === "StateMachineDoesNotExist")) throw error;
  } finally {
    client.destroy();
  }
  return counts;
}

function describeCounts(counts: Map<string, number>): string {
  const total = [...counts.values()].reduce((sum, count) => sum + count, 0);
  if (total === 0) return "0";
  const parts = [...counts.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, count]) => `${count} ${name.toLowerCase()}`);
  return `${total} (${parts.join(", ")})`;
}

export const localCommands: CommandGroup = {
  summary: "run the local cloud: S3, DynamoDB, Step Functions, EC2, Auto Scaling on 127.0.0.1",
  commands: {
    start: {
      summary: "start the local cloud (in the foreground, or in the background with --detach)",
      usage:
        "[--detach] [--state-dir DIR] [--ports fixed|ephemeral] [--timescale FACTOR (default 0.05)] [--wait-scale FACTOR (default 1)]",
      async run(args, io) {
        const values = parse(args, {
          ...stateDirOption,
          detach: { type: "boolean" },
          ports: { type: "string" },
          timescale: { type: "string" },
          "wait-scale": { type: "string" },
        });
        const stateDir = stateDirFrom(values["state-dir"]);
        const running = await runningCloudPid(stateDir);
        if (running !== undefined && running !== process.pid) {
          throw new CliError(
            `a local cloud is already running on ${stateDir} (pid ${running}) — \`npx kiln local stop\` ends it`,
          );
        }
        const options = {
          ports: portsOption(values.ports),
          timescale: numberOption("timescale", values.timescale, 0.05),
          waitScale: numberOption("wait-scale", values["wait-scale"], 1),
        };
        return values.detach === true
          ? runDetached(stateDir, options, io)
          : runForeground(stateDir, options, io);
      },
    },

    stop: {
      summary: "stop the local cloud and check that no instance process is left",
      usage: "[--state-dir DIR]",
      async run(args, io) {
        const stateDir = stateDirFrom(parse(args, stateDirOption)["state-dir"]);
        const pid = await runningCloudPid(stateDir);
        if (pid === undefined) throw notRunning(stateDir);
        process.kill(pid, "SIGTERM");
        if (!(await waitForExit(pid, 60_000))) {
          io.err(`kiln: the local cloud (pid ${pid}) did not stop within a minute; killing it`);
          process.kill(pid, "SIGKILL");
          await waitForExit(pid, 5_000);
        }
        const instancesDir = ec2Paths(stateDir).instancesDir;
        const left = await findInstanceProcesses(instancesDir);
        if (left.length > 0) {
          io.err(`kiln: ending ${left.length} instance processes the local cloud left behind`);
          await endProcessGroups([...new Set(left.map((found) => found.pgid))], 2_000);
          const stubborn = await findInstanceProcesses(instancesDir);
          if (stubborn.length > 0) {
            throw new CliError(
              `instance processes are still running: ${stubborn.map((found) => found.pid).join(", ")}`,
            );
          }
        }
        io.out(`kiln local cloud stopped (pid ${pid}); no instance process is running`);
        return 0;
      },
    },

    status: {
      summary: "say whether the local cloud runs, where, and what it holds",
      usage: "[--state-dir DIR]  (exit code 3 when it is not running)",
      async run(args, io) {
        const stateDir = stateDirFrom(parse(args, stateDirOption)["state-dir"]);
        const pid = await runningCloudPid(stateDir);
        const info = await readLocalCloudInfo(stateDir);
        if (pid === undefined || info === undefined || info.pid !== pid) {
          io.out(`kiln local cloud: not running (state in ${stateDir})`);
          return 3;
        }
        const [instances, groups, executions, emails, messages] = await Promise.all([
          countInstances(info),
          countGroups(info),
          countExecutions(info),
          listOutbox(stateDir),
          listSlackMessages(stateDir),
        ]);
        io.out(
          `kiln local cloud: running (pid ${pid}, since ${info.startedAt}, ${info.ports} ports, state in ${stateDir})`,
        );
        printEndpoints(info, io.out);
        io.out(`  ${"Instances".padEnd(15)} ${describeCounts(instances)}`);
        io.out(`  ${"Groups".padEnd(15)} ${groups}`);
        io.out(`  ${"Executions".padEnd(15)} ${describeCounts(executions)}`);
        io.out(`  ${"Notifications".padEnd(15)} ${messages.length} Slack, ${emails.length} email`);
        return 0;
      },
    },

    env: {
      summary:
        'print the environment that points the AWS CLI and SDK at the local cloud: eval "$(npx kiln local env)"',
      usage: "[--state-dir DIR]",
      async run(args, io) {
        const stateDir = stateDirFrom(parse(args, stateDirOption)["state-dir"]);
        const pid = await runningCloudPid(stateDir);
        const info = await readLocalCloudInfo(stateDir);
        if (pid === undefined || info === undefined || info.pid !== pid) throw notRunning(stateDir);
        io.out(`# kiln local cloud (pid ${pid}) on ${stateDir}`);
        io.out(
          '# AWS CLI v2 before 2.13 ignores AWS_ENDPOINT_URL_<SERVICE>: pass --endpoint-url "$AWS_ENDPOINT_URL_EC2" etc.',
        );
        for (const [name, value] of Object.entries(info.env)) io.out(`export ${name}=${shellQuote(value)}`);
        // AWS CLI v2 pages its output through `less` by default, which a script does not want.
        io.out("export AWS_PAGER=''");
        return 0;
      },
    },
  },
};
