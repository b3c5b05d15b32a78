/**
 * The tags Kiln puts on what it launches and bakes: provenance for people, and the handle that
 * cleanup, the bake cache, pruning and IAM conditions (`aws:ResourceTag/kiln:managed`) use.
 */
export const kilnTag = {
  managed: "kiln:managed",
  service: "kiln:service",
  version: "kiln:version",
  deploymentId: "kiln:deployment-id",
  role: "kiln:role",
  artifactSha256: "kiln:artifact-sha256",
  baseImage: "kiln:base-image",
  cacheKey: "kiln:cache-key",
  imageStatus: "kiln:image-status",
} as const;

export function provenanceTags(fields: {
  service: string;
  version: string;
  deploymentId: string;
  artifactSha256: string;
  baseImageId: string;
}): Record<string, string> {
  return {
    [kilnTag.managed]: "true",
    [kilnTag.service]: fields.service,
    [kilnTag.version]: fields.version,
    [kilnTag.deploymentId]: fields.deploymentId,
    [kilnTag.artifactSha256]: fields.artifactSha256,
    [kilnTag.baseImage]: fields.baseImageId,
  };
}
