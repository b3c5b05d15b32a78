/**
 * What people receive, pinned down: each kind of deployment news and a prune summary rendered as
 * a Slack Block Kit message and as an email (HTML and plain text), compared with the payloads
 * checked in under test/fixtures/notifications/. Regenerate them with `npx vitest run -u` after
 * a deliberate change, and read the diff.
 */
import { describe, expect, it } from "vitest";
import type { Deployment } from "../../core/deployment.ts";
import { renderEmail, renderSlackMessage } from "../../core/notification-rendering.ts";
import { deploymentNotification } from "../../core/notifications.ts";
import type { Notification } from "../../core/ports.ts";
import { pruneNotification } from "../../core/prune/prune-notification.ts";
import type { PruneRun } from "../../core/prune/prune-run.ts";
import { aServiceConfig } from "../fakes/test-data.ts";

const dashboard = "https://kiln.example.com";
const config = aServiceConfig({
  name: "web",
  notifications: { slack: true, emails: ["web-team@example.com"] },
});

const base: Deployment = {
  id: "d-4f9k2m8q1z7x3c5v6b0n2h4j",
  service: "web",
  version: "1.4.0",
  status: "SUCCEEDED",
  trigger: { kind: "s3", by: "AWS:AIDAEXAMPLEUPLOADER" },
  artifact: {
    bucket: "kiln-artifacts",
    key: "artifacts/web/1.4.0.tgz",
    sha256: "9f2c4b1e0d8a7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b",
    size: 48213,
  },
  requestedAt: "2026-03-02T09:00:00.000Z",
  updatedAt: "2026-03-02T09:06:41.000Z",
  steps: {
    prepare: { startedAt: "2026-03-02T09:00:01.000Z", endedAt: "2026-03-02T09:00:02.000Z" },
    bake: { startedAt: "2026-03-02T09:00:02.000Z", endedAt: "2026-03-02T09:03:10.000Z" },
    canary: { startedAt: "2026-03-02T09:03:11.000Z", endedAt: "2026-03-02T09:04:02.000Z" },
    roll: { startedAt: "2026-03-02T09:04:03.000Z", endedAt: "2026-03-02T09:06:38.000Z" },
    finish: { startedAt: "2026-03-02T09:06:38.000Z", endedAt: "2026-03-02T09:06:41.000Z" },
  },
  timeline: [],
  imageId: "ami-0a1b2c3d4e5f60718",
  previousImageId: "ami-0f9e8d7c6b5a40312",
  launchTemplateVersion: "7",
  previousLaunchTemplateVersion: "6",
  endedAt: "2026-03-02T09:06:41.000Z",
};

type DeploymentKind = Exclude<Notification["kind"], "PRUNED">;

const deployments: Record<string, [DeploymentKind, Deployment]> = {
  started: [
    "STARTED",
    {
      ...base,
      status: "PENDING",
      steps: {},
      imageId: undefined,
      launchTemplateVersion: undefined,
      previousLaunchTemplateVersion: undefined,
      endedAt: undefined,
    },
  ],
  succeeded: ["SUCCEEDED", base],
  "failed-canary": [
    "FAILED",
    {
      ...base,
      status: "FAILED",
      steps: {
        prepare: base.steps.prepare,
        bake: { startedAt: "2026-03-02T09:00:02.000Z", endedAt: "2026-03-02T09:03:10.000Z", cached: true },
        canary: { startedAt: "2026-03-02T09:03:11.000Z" },
      },
      launchTemplateVersion: undefined,
      previousLaunchTemplateVersion: undefined,
      endedAt: "2026-03-02T09:05:03.000Z",
      error: {
        name: "CanaryUnhealthyError",
        step: "canary",
        message:
          "canary i-0c4d2e1f3a5b7c9d8 was not healthy in time: http://10.0.12.34:8080/health answered 503 <html>Service Unavailable & retrying</html>",
      },
    },
  ],
  "rolled-back": [
    "ROLLED_BACK",
    {
      ...base,
      status: "ROLLED_BACK",
      steps: { ...base.steps, roll: { startedAt: "2026-03-02T09:04:03.000Z" }, finish: undefined },
      endedAt: "2026-03-02T09:09:30.000Z",
      error: {
        name: "RefreshFailedError",
        step: "roll",
        message:
          "instance refresh 08b91e2f failed: 1 of 4 new instances failed its health check — rolled back to launch template version 6",
      },
    },
  ],
  rejected: [
    "REJECTED",
    {
      ...base,
      status: "REJECTED",
      version: undefined,
      artifact: { bucket: "kiln-artifacts", key: "artifacts/web/latest.tgz" },
      steps: {},
      imageId: undefined,
      previousImageId: undefined,
      launchTemplateVersion: undefined,
      previousLaunchTemplateVersion: undefined,
      endedAt: "2026-03-02T09:00:00.000Z",
      error: {
        name: "ArtifactRejectedError",
        message: 'entry "../../etc/cron.d/job" climbs out of the artifact with ".."',
      },
    },
  ],
  cancelled: [
    "CANCELLED",
    {
      ...base,
      status: "CANCELLED",
      trigger: { kind: "api", by: "arn:aws:iam::123456789012:user/ana" },
      steps: { prepare: base.steps.prepare, bake: { startedAt: "2026-03-02T09:00:02.000Z" } },
      imageId: undefined,
      launchTemplateVersion: undefined,
      previousLaunchTemplateVersion: undefined,
      endedAt: "2026-03-02T09:01:30.000Z",
      error: {
        name: "DeploymentCancelled",
        step: "bake",
        message: "cancelled by arn:aws:iam::123456789012:user/ana",
      },
    },
  ],
  "rollback-succeeded": [
    "SUCCEEDED",
    {
      ...base,
      id: "d-7h3j5k9l2p4q6r8s0t1u3v5w",
      version: "1.3.2",
      trigger: { kind: "rollback", by: "arn:aws:iam::123456789012:user/ana" },
      steps: {
        ...base.steps,
        bake: { startedAt: "2026-03-02T09:00:02.000Z", endedAt: "2026-03-02T09:00:02.000Z", cached: true },
      },
      imageId: "ami-0f9e8d7c6b5a40312",
      previousImageId: "ami-0a1b2c3d4e5f60718",
      launchTemplateVersion: "8",
      previousLaunchTemplateVersion: "7",
      rollbackTo: { imageId: "ami-0f9e8d7c6b5a40312", deploymentId: "d-1a2b3c4d5e6f7g8h9i0j1k2l" },
    },
  ],
};

const pruneRun: PruneRun = {
  runId: "pr-20260302-030000-1a2b3c4d",
  startedAt: "2026-03-02T03:00:00.000Z",
  endedAt: "2026-03-02T03:00:41.000Z",
  trigger: { kind: "schedule" },
  dryRun: false,
  outcome: "COMPLETED_WITH_ERRORS",
  abortReasons: [],
  counts: { images: 14, selected: 4, removed: 3, snapshotsDeleted: 3, kept: 10, errors: 1 },
  errors: [
    { imageId: "ami-0ccccccccccccccc3", message: "InvalidAMIID.Unavailable: the image is being copied" },
  ],
  removals: [
    "ami-0aaaaaaaaaaaaaaa1",
    "ami-0aaaaaaaaaaaaaaa2",
    "ami-0bbbbbbbbbbbbbbb1",
    "ami-0ccccccccccccccc3",
  ].map((imageId, index) => ({
    imageId,
    service: index < 2 ? "web" : index < 3 ? "api" : "worker",
    name: `kiln-image-${index}`,
    why: "older than the newest 5 and 7 days old",
    snapshotIds: [`snap-0${index}`],
    status: index === 3 ? ("failed" as const) : ("removed" as const),
    deletedSnapshotIds: index === 3 ? [] : [`snap-0${index}`],
  })),
  kept: [
    ...Array.from({ length: 6 }, (_, index) => ({
      imageId: `ami-0k${index}`,
      service: "web",
      reasons: [{ code: "newest" as const, detail: "among the newest 5" }],
    })),
    { imageId: "ami-0p1", service: "web", reasons: [{ code: "pinned" as const, detail: "last-known-good" }] },
    {
      imageId: "ami-0p2",
      service: "api",
      reasons: [{ code: "referenced" as const, detail: "launch template version 3" }],
    },
    { imageId: "ami-0p3", service: "api", reasons: [{ code: "young" as const, detail: "2 days old" }] },
    {
      imageId: "ami-0p4",
      service: "worker",
      reasons: [{ code: "in-flight" as const, detail: "deployment d-1" }],
    },
  ],
};

/** The notification of one of the deployments above. */
function notificationFor(name: string): Notification {
  const entry = deployments[name];
  if (!entry) throw new Error(`no deployment case ${name}`);
  return deploymentNotification(entry[0], entry[1], config, dashboard);
}

const cases: Array<[string, Notification]> = [
  ...Object.keys(deployments).map((name): [string, Notification] => [name, notificationFor(name)]),
  ["pruned", pruneNotification(pruneRun, [config], dashboard)],
];

describe("notification rendering", () => {
  it.each(cases)("renders %s as the checked-in Slack message and email", async (name, notification) => {
    const slack = renderSlackMessage(notification);
    const email = renderEmail(notification);

    await expect(`${JSON.stringify(slack, null, 2)}\n`).toMatchFileSnapshot(
      `../fixtures/notifications/${name}.slack.json`,
    );
    await expect(email.html).toMatchFileSnapshot(`../fixtures/notifications/${name}.email.html`);
    await expect(`Subject: ${email.subject}\n\n${email.text}`).toMatchFileSnapshot(
      `../fixtures/notifications/${name}.email.txt`,
    );
  });

  it("names the service, version, outcome, duration, image, failing step and reason, and links to the deployment", () => {
    const { fields, link, title } = notificationFor("failed-canary");
    const facts = Object.fromEntries(fields.map((field) => [field.label, field.value]));

    expect(title).toBe("web 1.4.0 deployment failed");
    expect(facts).toMatchObject({
      Service: "web",
      Version: "1.4.0",
      Outcome: "Failed at canary",
      Duration: "5m 03s",
      Image: "ami-0a1b2c3d4e5f60718",
      "Failed step": "canary",
      Reason: expect.stringContaining("was not healthy in time"),
    });
    expect(link).toBe("https://kiln.example.com/#/deployments/d-4f9k2m8q1z7x3c5v6b0n2h4j");
  });

  it("escapes what Slack and HTML would read as markup", () => {
    const notification = notificationFor("failed-canary");

    expect(JSON.stringify(renderSlackMessage(notification))).toContain(
      "503 &lt;html&gt;Service Unavailable &amp; retrying&lt;/html&gt;",
    );
    expect(renderEmail(notification).html).not.toContain("<html>Service");
  });

  it("stays within Block Kit's limits however long the facts are", () => {
    const notification: Notification = {
      kind: "FAILED",
      service: "web",
      title: `web ${"9".repeat(200)} deployment failed`,
      fields: [
        ...Array.from({ length: 14 }, (_, index) => ({ label: `Fact ${index}`, value: "short" })),
        { label: "Reason", value: "x".repeat(10_000) },
      ],
      emails: [],
      slack: true,
    };

    const { blocks } = renderSlackMessage(notification);

    const texts = blocks.map((block) => JSON.stringify(block));
    const header = blocks[0] as { text: { text: string } };
    expect(header.text.text.length).toBeLessThanOrEqual(150);
    const sections = blocks.filter((block) => block.type === "section") as Array<{
      fields?: Array<{ text: string }>;
      text?: { text: string };
    }>;
    for (const section of sections) {
      expect(section.fields?.length ?? 0).toBeLessThanOrEqual(10);
      for (const field of section.fields ?? []) expect(field.text.length).toBeLessThanOrEqual(2000);
      expect(section.text?.text.length ?? 0).toBeLessThanOrEqual(3000);
    }
    expect(sections.flatMap((section) => section.fields ?? [])).toHaveLength(14);
    expect(texts.join("")).toContain("…");
  });
});
