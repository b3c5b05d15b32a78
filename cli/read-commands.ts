/**
 * `kiln status`, `history`, `services`, `images`, `instances`, `dashboard`: reading what Kiln
 * did and what runs. Each prints a table or a description, or with `--json` the API's answer.
 */
import type { DeploymentView, ServiceView, StepState } from "../core/operations/views.ts";
import type { CliCommand, CliIo } from "./cli-command.ts";
import {
  apiOptions,
  apiUsage,
  connect,
  countOption,
  duration,
  parseCommand,
  printJson,
  table,
} from "./command-options.ts";

const stepMarks: Record<StepState, string> = {
  succeeded: "✓",
  cached: "↺",
  running: "…",
  failed: "✘",
  cancelled: "⊘",
  "not-run": "·",
  pending: "·",
};

function time(iso: string): string {
  return iso.replace("T", " ").replace(/\.\d+Z$/, "Z");
}

/** A deployment in full: what it deploys, each step, each status change, its error. */
export function describeDeployment(deployment: DeploymentView): string[] {
  const by = deployment.trigger.by ? ` by ${deployment.trigger.by}` : "";
  const lines = [
    `${deployment.id}  ${deployment.service} ${deployment.version ?? "?"}  ${deployment.status}`,
    `  trigger       ${deployment.trigger.kind}${by}`,
    `  requested     ${time(deployment.requestedAt)}${deployment.endedAt ? `  ended ${time(deployment.endedAt)}  took ${duration(deployment.durationMs)}` : ""}`,
  ];
  if (deployment.rollbackTo) {
    lines.push(
      `  rolls back to ${deployment.rollbackTo.imageId} (baked by ${deployment.rollbackTo.deploymentId})`,
    );
  }
  if (deployment.imageId) lines.push(`  image         ${deployment.imageId}`);
  if (deployment.launchTemplateVersion) {
    const was = deployment.previousLaunchTemplateVersion
      ? ` (was ${deployment.previousLaunchTemplateVersion})`
      : "";
    lines.push(`  template      version ${deployment.launchTemplateVersion}${was}`);
  }
  if (deployment.previousImageId) lines.push(`  previous      ${deployment.previousImageId}`);
  if (deployment.artifact) {
    const sha = deployment.artifact.sha256 ? `  sha256 ${deployment.artifact.sha256.slice(0, 16)}…` : "";
    lines.push(`  artifact      s3://${deployment.artifact.bucket}/${deployment.artifact.key}${sha}`);
  }
  lines.push("  steps");
  for (const step of deployment.stepTimeline) {
    const took = step.durationMs === undefined ? "" : duration(step.durationMs);
    lines.push(
      `    ${stepMarks[step.state]} ${step.step.padEnd(8)} ${step.state.padEnd(9)} ${took.padStart(7)}  ${step.note ?? ""}`.trimEnd(),
    );
  }
  lines.push("  timeline");
  for (const entry of deployment.timeline) {
    lines.push(
      `    ${time(entry.at)}  ${entry.status.toLowerCase().padEnd(11)} ${entry.note ?? ""}`.trimEnd(),
    );
  }
  if (deployment.error) {
    const where = deployment.error.step ? ` at ${deployment.error.step}` : "";
    lines.push(`  error         ${deployment.error.name}${where}: ${deployment.error.message}`);
  }
  return lines;
}

function serviceRow(service: ServiceView): string[] {
  const last = service.lastDeployment;
  const lock = service.lock.activeDeploymentId
    ? `deploying ${service.lock.activeDeploymentId}${service.lock.queuedDeploymentId ? `, ${service.lock.queuedDeploymentId} queued` : ""}`
    : "";
  return [
    service.name,
    service.config.group.name,
    last ? `${last.version ?? "?"} ${last.status}` : "never deployed",
    service.pins.lastKnownGood?.imageId ?? "",
    lock,
  ];
}

function printService(service: ServiceView, io: CliIo): void {
  const { config, pins, lock, lastDeployment } = service;
  io.out(`${service.name}`);
  io.out(`  group            ${config.group.name} (launch template ${config.group.launchTemplateId})`);
  io.out(`  base image       ${config.baseImageId}`);
  io.out(
    `  rollout          min healthy ${config.rollout.minHealthyPercentage}%, warm-up ${config.rollout.instanceWarmupSeconds}s, auto-rollback ${config.rollout.autoRollback ? "on" : "off"}`,
  );
  io.out(
    `  last-known-good  ${pins.lastKnownGood ? `${pins.lastKnownGood.imageId} (${pins.lastKnownGood.deploymentId})` : "none"}`,
  );
  io.out(
    `  previous image   ${pins.previousImage ? `${pins.previousImage.imageId} (${pins.previousImage.deploymentId})` : "none"}`,
  );
  io.out(
    `  lock             ${lock.activeDeploymentId ?? "free"}${lock.queuedDeploymentId ? `, queued ${lock.queuedDeploymentId}` : ""}`,
  );
  if (lastDeployment)
    io.out(
      `  last deployment  ${lastDeployment.id} ${lastDeployment.version ?? "?"} ${lastDeployment.status}`,
    );
  const targets = [config.notifications.slack ? "Slack" : "", ...config.notifications.emails].filter(Boolean);
  io.out(`  notifications    ${targets.join(", ") || "none"}`);
}

export const readCommands: Record<string, CliCommand> = {
  status: {
    summary: "show a deployment: each step with its time, each status change, the error",
    usage: `<deployment-id> ${apiUsage}`,
    async run(args, io) {
      const { values, positionals } = parseCommand(args, apiOptions, ["<deployment-id>"]);
      const deployment = await (await connect(values)).getDeployment(positionals[0] ?? "");
      if (values.json) printJson(io, deployment);
      else for (const line of describeDeployment(deployment)) io.out(line);
      return 0;
    },
  },

  history: {
    summary: "list deployments newest first, for every service or one",
    usage: `[--service NAME] [--status S1,S2] [--limit N] [--cursor C] ${apiUsage}`,
    async run(args, io) {
      const { values } = parseCommand(
        args,
        {
          ...apiOptions,
          service: { type: "string" },
          status: { type: "string" },
          limit: { type: "string" },
          cursor: { type: "string" },
        },
        [],
      );
      const page = await (await connect(values)).listDeployments({
        service: values.service,
        status: values.status,
        limit: countOption("limit", values.limit) ?? 20,
        cursor: values.cursor,
      });
      if (values.json) {
        printJson(io, page);
        return 0;
      }
      if (page.items.length === 0) io.out("no deployments");
      else {
        const rows = page.items.map((deployment) => [
          deployment.id,
          deployment.service,
          deployment.version ?? "?",
          deployment.status,
          deployment.trigger.kind,
          time(deployment.requestedAt),
          duration(deployment.durationMs),
        ]);
        for (const line of table([
          ["DEPLOYMENT", "SERVICE", "VERSION", "STATUS", "TRIGGER", "REQUESTED", "TOOK"],
          ...rows,
        ]))
          io.out(line);
      }
      if (page.cursor)
        io.out(
          `more: kiln history --cursor ${page.cursor}${values.service ? ` --service ${values.service}` : ""}`,
        );
      return 0;
    },
  },

  services: {
    summary: "list registered services, or show one",
    usage: `[<service>] ${apiUsage}`,
    async run(args, io) {
      const { values, positionals } = parseCommand(args, apiOptions, ["[service]"]);
      const api = await connect(values);
      const name = positionals[0];
      if (name !== undefined) {
        const service = await api.getService(name);
        if (values.json) printJson(io, service);
        else printService(service, io);
        return 0;
      }
      const services = await api.listServices();
      if (values.json) printJson(io, { items: services });
      else if (services.length === 0) io.out("no services registered");
      else
        for (const line of table([
          ["SERVICE", "GROUP", "LAST DEPLOYMENT", "LAST-KNOWN-GOOD", "LOCK"],
          ...services.map(serviceRow),
        ]))
          io.out(line);
      return 0;
    },
  },

  images: {
    summary: "list the images Kiln baked for a service, newest first, with their pins",
    usage: `<service> ${apiUsage}`,
    async run(args, io) {
      const { values, positionals } = parseCommand(args, apiOptions, ["<service>"]);
      const view = await (await connect(values)).listImages(positionals[0] ?? "");
      if (values.json) {
        printJson(io, view);
        return 0;
      }
      if (view.images.length === 0) io.out(`no images of ${view.service}`);
      const rows = view.images.map((image) => [
        image.imageId,
        image.version ?? "?",
        image.state,
        image.createdAt ? time(image.createdAt) : "",
        image.status ?? "",
        image.pins.join(", "),
      ]);
      if (rows.length > 0)
        for (const line of table([["IMAGE", "VERSION", "STATE", "CREATED", "VERDICT", "PINS"], ...rows]))
          io.out(line);
      return 0;
    },
  },

  instances: {
    summary: "list the instances of a service's group and the version each runs",
    usage: `<service> ${apiUsage}`,
    async run(args, io) {
      const { values, positionals } = parseCommand(args, apiOptions, ["<service>"]);
      const view = await (await connect(values)).listInstances(positionals[0] ?? "");
      if (values.json) {
        printJson(io, view);
        return 0;
      }
      io.out(
        `${view.group.name}: desired ${view.group.desiredCapacity}, template version ${view.group.launchTemplateVersion ?? "?"}`,
      );
      const rows = view.instances.map((instance) => [
        instance.instanceId,
        instance.lifecycleState,
        instance.healthStatus,
        instance.version ?? "?",
        instance.imageId ?? "",
        instance.privateIp ?? "",
      ]);
      if (rows.length > 0)
        for (const line of table([
          ["INSTANCE", "LIFECYCLE", "HEALTH", "VERSION", "IMAGE", "ADDRESS"],
          ...rows,
        ]))
          io.out(line);
      return 0;
    },
  },

  dashboard: {
    summary: "print the dashboard's address (locally with the API token, for a browser)",
    usage: "[--api URL] [--state-dir DIR]",
    async run(args, io) {
      const { values } = parseCommand(
        args,
        { api: apiOptions.api, "state-dir": apiOptions["state-dir"] },
        [],
      );
      const { target } = await connect(values);
      if (target.auth.kind === "bearer") {
        // The fragment never reaches a server: the page keeps the token in the browser.
        io.out(`${target.url}/#token=${encodeURIComponent(target.auth.token)}`);
      } else {
        io.out(`${target.url}/`);
        io.out(
          "The page asks for a bearer token: a JWT when the stage configures an issuer. An IAM-only stage is read with the CLI.",
        );
      }
      return 0;
    },
  },
};
