/**
 * Adapters built from the function's environment. Each factory reads only the variables its
 * adapter needs, and a function calls only the factories it uses, so its role's permissions
 * (derived in test/infra from the calls it reaches) follow its code, and its bundle carries only
 * those adapters (stacks/function-bundles.ts; docs/benchmarks.md, figure 7).
 */
import { AutoScalingGroupInstances } from "../core/aws/auto-scaling-group-instances.ts";
import { AutoScalingGroups } from "../core/aws/auto-scaling-groups.ts";
import { ChannelNotifier } from "../core/aws/channel-notifier.ts";
import { DynamoDeploymentHistory } from "../core/aws/dynamo-deployment-history.ts";
import { DynamoPruneAudit } from "../core/aws/dynamo-prune-audit.ts";
import { DynamoServiceRegistry } from "../core/aws/dynamo-service-registry.ts";
import { DynamoWatcherRegistry } from "../core/aws/dynamo-watcher-registry.ts";
import { Ec2Fleet } from "../core/aws/ec2-fleet.ts";
import { Ec2ImageCatalog } from "../core/aws/ec2-image-catalog.ts";
import { Ec2ImageInventory } from "../core/aws/ec2-image-inventory.ts";
import { Ec2ReferenceScanner } from "../core/aws/ec2-reference-scanner.ts";
import { Ec2ServiceImages } from "../core/aws/ec2-service-images.ts";
import { httpHealthProbe } from "../core/aws/http-health-probe.ts";
import { S3ArtifactStore } from "../core/aws/s3-artifact-store.ts";
import { S3ArtifactUploads } from "../core/aws/s3-artifact-uploads.ts";
import { SfnTaskCallbacks } from "../core/aws/sfn-task-callbacks.ts";
import { SfnWorkflowStarter } from "../core/aws/sfn-workflow-starter.ts";
import { systemClock } from "../core/ports.ts";
import { leaseMs, optionalEnv, requireEnv } from "./environment.ts";
import { logger } from "./observability.ts";

export const history = () => new DynamoDeploymentHistory(requireEnv("KILN_TABLE_NAME"));
export const services = () => new DynamoServiceRegistry(requireEnv("KILN_TABLE_NAME"));
export const artifacts = () => new S3ArtifactStore();
export const fleet = () => new Ec2Fleet(requireEnv("KILN_BUILDER_INSTANCE_PROFILE"));
export const images = () => new Ec2ImageCatalog();
export const groups = () => new AutoScalingGroups();
export const workflow = () => new SfnWorkflowStarter(requireEnv("KILN_STATE_MACHINE_ARN"));
export const probe = () => httpHealthProbe;
export const clock = () => systemClock;
export const notifier = () =>
  new ChannelNotifier({
    slackWebhookUrl: optionalEnv("KILN_SLACK_WEBHOOK_URL"),
    emailFrom: optionalEnv("KILN_EMAIL_FROM"),
    log: (message, details) => logger.warn(message, details),
  });

/** What the queue rules need: the history, the registry and the workflow. */
export const queueDeps = () => ({
  history: history(),
  services: services(),
  workflow: workflow(),
  leaseMs: leaseMs(),
});

/** What event-driven waits register through and resume workflows with. */
export const watchDeps = () => ({
  watchers: new DynamoWatcherRegistry(requireEnv("KILN_TABLE_NAME")),
  callbacks: new SfnTaskCallbacks(),
  fleet: fleet(),
  images: images(),
  history: history(),
  groups: groups(),
  clock: clock(),
});

/** What an image prune reads and removes through. */
export const imageInventory = () => new Ec2ImageInventory();
export const referenceScanner = () => new Ec2ReferenceScanner();
export const pruneAudit = () => new DynamoPruneAudit(requireEnv("KILN_TABLE_NAME"));

/** What the operator API reads and writes through, besides the above. */
export const artifactUploads = () => new S3ArtifactUploads();
export const serviceImages = () => new Ec2ServiceImages();
export const groupInstances = () => new AutoScalingGroupInstances();
