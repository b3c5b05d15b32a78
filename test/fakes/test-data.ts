/** Valid domain values for tests, each overridable where a test needs something particular. */
import { createHash } from "node:crypto";
import { buffer } from "node:stream/consumers";
import { createGzip } from "node:zlib";
import { pack } from "tar-stream";
import { bakeCacheKey } from "../../core/bake-recipe.ts";
import type { DeployState, ExecutionInput, Plan } from "../../core/deploy/state.ts";
import type { Deployment } from "../../core/deployment.ts";
import { deploymentIdForObject } from "../../core/deployment-id.ts";
import type { Manifest } from "../../core/manifest.ts";
import {
  type ServiceConfig,
  type ServiceConfigInput,
  serviceConfigSchema,
} from "../../core/service-config.ts";

export const bucket = "kiln-artifacts";

export function aManifest(overrides: Partial<Manifest> = {}): Manifest {
  return {
    service: "hello-service",
    version: "1.2.3",
    start: "node server.js",
    port: 8080,
    healthPath: "/health",
    env: {},
    ...overrides,
  };
}

export function aServiceConfig(overrides: Partial<ServiceConfigInput> = {}): ServiceConfig {
  return serviceConfigSchema.parse({
    name: "hello-service",
    group: { name: "hello-service-asg", launchTemplateId: "lt-0123456789abcdef0" },
    baseImageId: "ami-0aaaaaaaaaaaaaaa0",
    ...overrides,
  });
}

export function artifactKey(service: string, version: string): string {
  return `artifacts/${service}/${version}.tgz`;
}

/** A gzipped tarball with `manifest` as kiln.json and the given files. */
export async function packArtifact(
  manifest: unknown,
  files: Record<string, string> = { "server.js": "// hello\n" },
): Promise<Buffer> {
  const tar = pack();
  const packed = buffer(tar.pipe(createGzip()));
  const common = { mtime: new Date("2000-01-01T00:00:00Z"), uid: 0, gid: 0 };
  tar.entry({ ...common, name: "kiln.json", mode: 0o644 }, JSON.stringify(manifest));
  for (const [name, body] of Object.entries(files)) {
    tar.entry({ ...common, name, mode: name.endsWith(".sh") ? 0o755 : 0o644 }, body);
  }
  tar.finalize();
  return packed;
}

export function sha256Of(bytes: Buffer | string): string {
  return createHash("sha256").update(bytes).digest("hex");
}

export function anExecutionInput(overrides: Partial<ExecutionInput> = {}): ExecutionInput {
  const manifest = overrides.manifest ?? aManifest();
  const key = artifactKey(manifest.service, manifest.version);
  return {
    deploymentId: deploymentIdForObject({ bucket, key, etag: `"etag-${manifest.version}"` }),
    service: manifest.service,
    version: manifest.version,
    artifact: { bucket, key, etag: `"etag-${manifest.version}"`, sha256: sha256Of(key), size: 1234 },
    manifest,
    ...overrides,
  };
}

/** A deployment record matching `input`, in `status`, with a timeline that led there. */
export function aDeployment(input: ExecutionInput, overrides: Partial<Deployment> = {}): Deployment {
  const at = overrides.requestedAt ?? "2026-03-02T09:00:00.000Z";
  return {
    id: input.deploymentId,
    service: input.service,
    version: input.version,
    status: "PENDING",
    trigger: { kind: "s3" },
    artifact: input.artifact,
    manifest: input.manifest,
    requestedAt: at,
    updatedAt: at,
    steps: {},
    timeline: [{ status: overrides.status ?? "PENDING", at }],
    ...overrides,
  };
}

export function aPlan(
  input: ExecutionInput,
  config: ServiceConfig = aServiceConfig(),
  overrides: Partial<Plan> = {},
): Plan {
  return {
    baseImageId: config.baseImageId,
    cacheKey: bakeCacheKey(input.artifact.sha256, config.baseImageId, input.manifest),
    cachedImageId: null,
    groupName: config.group.name,
    launchTemplateId: config.group.launchTemplateId,
    builder: config.builder,
    health: {
      port: input.manifest.port,
      path: input.manifest.healthPath,
      healthyThreshold: config.health.healthyThreshold,
      timeoutSeconds: config.health.timeoutSeconds,
      requestTimeoutMs: config.health.requestTimeoutMs,
    },
    rollout: config.rollout,
    poll: config.poll,
    ...overrides,
  };
}

/** The workflow state after prepare, plus whatever later steps the test adds. */
export function aDeployState(
  input: ExecutionInput = anExecutionInput(),
  overrides: Partial<DeployState> = {},
): DeployState {
  return { ...input, plan: aPlan(input), ...overrides };
}
