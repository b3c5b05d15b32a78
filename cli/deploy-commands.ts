/**
 * `kiln deploy`, `rollback`, `cancel`, `prune`, `register`: changing what runs. `deploy` packs a
 * directory (or takes a packed .tgz), uploads it through a presigned URL — the upload is the
 * deployment request — and with `--follow` shows each step live, exiting 0 only on success.
 */
import { createHash } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { Readable } from "node:stream";
import { defaultArtifactLimits, inspectArtifact } from "../core/artifact-inspection.ts";
import { terminalStatuses } from "../core/deployment.ts";
import { deploymentIdForObject } from "../core/deployment-id.ts";
import type { Manifest } from "../core/manifest.ts";
import type { DeploymentView } from "../core/operations/views.ts";
import type { KilnApi } from "./api-client.ts";
import { packDirectory } from "./artifact-packing.ts";
import { type CliCommand, CliError, type CliIo } from "./cli-command.ts";
import { apiOptions, apiUsage, connect, countOption, parseCommand, printJson } from "./command-options.ts";
import { followDeployment } from "./deployment-progress.ts";

interface Artifact {
  manifest: Manifest;
  body: Buffer;
  sha256: string;
}

/** A directory packed with its manifest (service and version overridable), or a packed .tgz as it is. */
async function loadArtifact(
  source: string,
  overrides: { service?: string; version?: string },
): Promise<Artifact> {
  let isDirectory: boolean;
  try {
    isDirectory = (await stat(source)).isDirectory();
  } catch {
    throw new CliError(`${source}: no such directory or file`, 2);
  }
  if (isDirectory) {
    const { manifest, body } = await packDirectory(source, overrides);
    return { manifest, body, sha256: createHash("sha256").update(body).digest("hex") };
  }
  const body = await readFile(source);
  const { manifest, sha256 } = await inspectArtifact(Readable.from([body]), defaultArtifactLimits);
  for (const field of ["service", "version"] as const) {
    const wanted = overrides[field];
    if (wanted !== undefined && wanted !== manifest[field]) {
      throw new CliError(
        `${source} carries its own kiln.json (${field} ${manifest[field]}): --${field} ${wanted} cannot change it; deploy the directory instead`,
        2,
      );
    }
  }
  return { manifest, body, sha256 };
}

function size(bytes: number): string {
  return bytes < 1024 * 1024 ? `${(bytes / 1024).toFixed(1)} KiB` : `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

const pickupTimeoutMs = 120_000;

/** Waits for the upload trigger to record the deployment, then follows it to its end. */
async function follow(
  api: KilnApi,
  id: string,
  io: CliIo,
  options: { json: boolean; timeoutMs: number },
): Promise<number> {
  const write = options.json ? () => {} : io.out;
  const pickupDeadline = Date.now() + pickupTimeoutMs;
  let told = false;
  while ((await api.findDeployment(id)) === undefined) {
    if (Date.now() > pickupDeadline) {
      throw new CliError(
        `the upload was not picked up within ${pickupTimeoutMs / 1000}s: is the bucket's trigger in place?`,
      );
    }
    if (!told) write("  waiting for Kiln to pick up the upload…");
    told = true;
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  let final: DeploymentView | undefined;
  await followDeployment(
    async () => {
      final = await api.findDeployment(id);
      return final;
    },
    { write, intervalMs: 500, timeoutMs: options.timeoutMs },
  );
  if (final === undefined) throw new CliError(`deployment ${id} disappeared while it was followed`);
  if (options.json) printJson(io, final);
  if (final.status === "SUCCEEDED") return 0;
  const where = final.error?.step ? ` at ${final.error.step}` : "";
  io.err(`kiln: deployment ${id} ${final.status}${where}: ${final.error?.message ?? "no reason recorded"}`);
  return 1;
}

function timeoutOption(value: string | undefined): number {
  return (countOption("timeout", value) ?? 3600) * 1000;
}

export const deployCommands: Record<string, CliCommand> = {
  deploy: {
    summary:
      "pack and upload an artifact (a directory with kiln.json, or a .tgz); --follow shows each step live",
    usage: `<dir|artifact.tgz> [--service NAME] [--version V] [--follow] [--timeout SECONDS] ${apiUsage}`,
    async run(args, io) {
      const { values, positionals } = parseCommand(
        args,
        {
          ...apiOptions,
          service: { type: "string" },
          version: { type: "string" },
          follow: { type: "boolean" },
          timeout: { type: "string" },
        },
        ["<dir|artifact.tgz>"],
      );
      const overrides = {
        ...(values.service === undefined ? {} : { service: values.service }),
        ...(values.version === undefined ? {} : { version: values.version }),
      };
      const artifact = await loadArtifact(positionals[0] ?? "", overrides);
      const api = await connect(values);
      const { service, version } = artifact.manifest;
      const ticket = await api.requestUpload(service, version);
      const put = await fetch(ticket.url, { method: "PUT", body: artifact.body });
      if (!put.ok)
        throw new CliError(
          `the upload to s3://${ticket.bucket}/${ticket.key} failed: ${put.status} ${(await put.text()).slice(0, 300)}`,
        );
      // The upload trigger names the deployment after the object's version (or ETag): so can we.
      const id = deploymentIdForObject({
        bucket: ticket.bucket,
        key: ticket.key,
        versionId: put.headers.get("x-amz-version-id") ?? undefined,
        etag: put.headers.get("etag") ?? undefined,
      });
      if (!values.json) {
        io.out(
          `Deploying ${service} ${version}: uploaded ${ticket.key} (${size(artifact.body.length)}, sha256 ${artifact.sha256.slice(0, 12)}…)`,
        );
        io.out(`  deployment ${id}`);
      }
      if (!values.follow) {
        if (values.json)
          printJson(io, {
            deploymentId: id,
            bucket: ticket.bucket,
            key: ticket.key,
            sha256: artifact.sha256,
          });
        else io.out(`Follow it with: kiln status ${id}`);
        return 0;
      }
      return follow(api, id, io, { json: values.json === true, timeoutMs: timeoutOption(values.timeout) });
    },
  },

  rollback: {
    summary:
      "roll a service back to the image before its last-known-good one (or a named deployment or image)",
    usage: `<service> [--to-deployment ID | --to-image AMI] [--follow] [--timeout SECONDS] ${apiUsage}`,
    async run(args, io) {
      const { values, positionals } = parseCommand(
        args,
        {
          ...apiOptions,
          "to-deployment": { type: "string" },
          "to-image": { type: "string" },
          follow: { type: "boolean" },
          timeout: { type: "string" },
        },
        ["<service>"],
      );
      const api = await connect(values);
      const { body: rollback } = await api.rollBack(positionals[0] ?? "", {
        ...(values["to-deployment"] ? { deploymentId: values["to-deployment"] } : {}),
        ...(values["to-image"] ? { imageId: values["to-image"] } : {}),
      });
      if (!values.json) {
        io.out(
          `Rolling ${rollback.service} back to ${rollback.version ?? "?"} (${rollback.rollbackTo?.imageId ?? rollback.imageId ?? "?"})`,
        );
        io.out(`  deployment ${rollback.id} ${rollback.status.toLowerCase()}`);
      }
      if (!values.follow) {
        if (values.json) printJson(io, rollback);
        return 0;
      }
      return follow(api, rollback.id, io, {
        json: values.json === true,
        timeoutMs: timeoutOption(values.timeout),
      });
    },
  },

  cancel: {
    summary: "cancel a queued or running deployment and wait until it has stopped",
    usage: `<deployment-id> [--no-wait] ${apiUsage}`,
    async run(args, io) {
      const { values, positionals } = parseCommand(args, { ...apiOptions, "no-wait": { type: "boolean" } }, [
        "<deployment-id>",
      ]);
      const api = await connect(values);
      const id = positionals[0] ?? "";
      const { status, body } = await api.cancel(id);
      let final = body;
      if (status === 202 && !values["no-wait"]) {
        if (!values.json) io.out(`stopping ${id} (${body.status.toLowerCase()}): waiting for its cleanup…`);
        const deadline = Date.now() + 120_000;
        while (!terminalStatuses.has(final.status)) {
          if (Date.now() > deadline)
            throw new CliError(`${id} is still ${final.status} two minutes after it was asked to stop`);
          await new Promise((resolve) => setTimeout(resolve, 500));
          final = await api.getDeployment(id);
        }
      }
      if (values.json) printJson(io, final);
      else if (final.status === "CANCELLED")
        io.out(`✘ ${id} CANCELLED${final.error?.step ? ` at ${final.error.step}` : ""}`);
      else
        io.out(
          `${id} is ${final.status}${terminalStatuses.has(final.status) ? "" : ": its execution is stopping"}`,
        );
      return final.status === "CANCELLED" || !terminalStatuses.has(final.status) ? 0 : 1;
    },
  },

  prune: {
    summary:
      "remove old images now (keeping what is in use, pinned or recent); --dry-run lists what would go",
    usage: `[--dry-run] [--service NAME] ${apiUsage}`,
    async run(args, io) {
      const { values } = parseCommand(
        args,
        { ...apiOptions, "dry-run": { type: "boolean" }, service: { type: "string" } },
        [],
      );
      const run = await (await connect(values)).prune({
        dryRun: values["dry-run"] === true,
        service: values.service,
      });
      if (values.json) {
        printJson(io, run);
        return 0;
      }
      const scope = run.service ? ` of ${run.service}` : "";
      if (run.dryRun)
        io.out(
          `Prune preview${scope} (${run.runId}): ${run.counts.selected} image(s) would be removed, ${run.counts.kept} kept`,
        );
      else
        io.out(
          `Prune${scope} (${run.runId}): ${run.counts.removed} image(s) removed, ${run.counts.snapshotsDeleted} snapshot(s) deleted, ${run.counts.kept} kept`,
        );
      for (const removal of run.removals) {
        io.out(
          `  ${removal.status === "planned" ? "would remove" : removal.status.padEnd(12)} ${removal.imageId} ${removal.service} — ${removal.why}${removal.detail ? ` (${removal.detail})` : ""}`,
        );
      }
      for (const error of run.errors)
        io.err(`kiln: ${error.imageId ? `${error.imageId}: ` : ""}${error.message}`);
      return run.errors.length > 0 ? 1 : 0;
    },
  },

  register: {
    summary: "register a service (or replace its config) from a JSON file",
    usage: `<service-config.json> ${apiUsage}`,
    async run(args, io) {
      const { values, positionals } = parseCommand(args, apiOptions, ["<service-config.json>"]);
      const file = positionals[0] ?? "";
      let config: unknown;
      try {
        config = JSON.parse(await readFile(file, "utf8"));
      } catch (error) {
        throw new CliError(`${file}: ${error instanceof Error ? error.message : String(error)}`, 2);
      }
      const name =
        typeof config === "object" && config !== null && "name" in config ? config.name : undefined;
      if (typeof name !== "string") throw new CliError(`${file} names no service: add "name"`, 2);
      const { status, body } = await (await connect(values)).registerService(name, config);
      if (values.json) printJson(io, body);
      else
        io.out(
          `${status === 201 ? "Registered" : "Updated"} ${body.name}: group ${body.config.group.name}, base image ${body.config.baseImageId}`,
        );
      return 0;
    },
  },
};
