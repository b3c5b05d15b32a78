import { artifactPrefix } from "./storage.ts";

/** The role and instance profile builder and canary instances run with, and encrypted images. */
export function createInstanceRoles(artifacts: sst.aws.Bucket) {
  const role = new aws.iam.Role("BuilderInstanceRole", {
    description: "Kiln builder and canary instances: read artifacts, nothing else",
    assumeRolePolicy: JSON.stringify({
      Version: "2012-10-17",
      Statement: [{ Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" }],
    }),
    inlinePolicies: [
      {
        name: "read-artifacts",
        policy: $jsonStringify({
          Version: "2012-10-17",
          Statement: [
            {
              Sid: "ReadArtifacts",
              Effect: "Allow",
              // Versioned reads: the builder fetches exactly the version that triggered the deployment.
              Action: ["s3:GetObject", "s3:GetObjectVersion"],
              Resource: [$interpolate`${artifacts.arn}/${artifactPrefix}*`],
            },
          ],
        }),
      },
    ],
  });

  const profile = new aws.iam.InstanceProfile("BuilderInstanceProfile", { role: role.name });

  // Every volume a builder or canary gets is encrypted, so every snapshot and image baked from it
  // is too. The default key (aws/ebs) needs no key policy for Auto Scaling's service-linked role,
  // which a customer-managed key would. Removing a stage must not switch the account setting off.
  new aws.ebs.EncryptionByDefault("EbsEncryptionByDefault", { enabled: true }, { retainOnDelete: true });

  return { role, profile };
}
