/** A stage's deploy-time settings: checked once, failing with the name of what is wrong. */
import { describe, expect, it } from "vitest";
import { readSettings } from "../../stacks/settings.ts";

const required = { KILN_EMAIL_FROM: "kiln@example.com" };

describe("readSettings", () => {
  it("fills in defaults and marks only the production stage as production", () => {
    expect(readSettings("production", required)).toEqual({
      stage: "production",
      production: true,
      emailFrom: "kiln@example.com",
      jwt: undefined,
      pruneSchedule: "rate(1 day)",
      noncurrentArtifactDays: 30,
      artifactExpiryDays: 0,
      healthCheckVpc: undefined,
      serviceInstanceRoleArns: [],
    });
    expect(readSettings("staging", required).production).toBe(false);
  });

  it("names KILN_EMAIL_FROM when the sender is missing", () => {
    expect(() => readSettings("dev", {})).toThrow(/KILN_EMAIL_FROM/);
  });

  it("reads lists separated by commas, ignoring blanks", () => {
    const settings = readSettings("dev", {
      ...required,
      KILN_JWT_ISSUER: "https://auth.example.com/",
      KILN_JWT_AUDIENCES: " kiln-cli, ,kiln-ci ",
      KILN_HEALTH_CHECK_SUBNETS: "subnet-1,subnet-2",
      KILN_HEALTH_CHECK_SECURITY_GROUPS: "sg-1",
      KILN_SERVICE_INSTANCE_ROLE_ARNS: "arn:aws:iam::123456789012:role/orders",
    });
    expect(settings.jwt).toEqual({ issuer: "https://auth.example.com/", audiences: ["kiln-cli", "kiln-ci"] });
    expect(settings.healthCheckVpc).toEqual({ subnets: ["subnet-1", "subnet-2"], securityGroups: ["sg-1"] });
    expect(settings.serviceInstanceRoleArns).toEqual(["arn:aws:iam::123456789012:role/orders"]);
  });

  it.each([
    [{ KILN_JWT_ISSUER: "https://auth.example.com/" }, /KILN_JWT_AUDIENCES/],
    [{ KILN_JWT_AUDIENCES: "kiln-cli" }, /KILN_JWT_ISSUER/],
    [{ KILN_HEALTH_CHECK_SUBNETS: "subnet-1" }, /KILN_HEALTH_CHECK_SECURITY_GROUPS/],
    [{ KILN_SERVICE_INSTANCE_ROLE_ARNS: "orders-role" }, /not an IAM role ARN/],
    [{ KILN_NONCURRENT_ARTIFACT_DAYS: "0" }, /KILN_NONCURRENT_ARTIFACT_DAYS/],
    [{ KILN_ARTIFACT_EXPIRY_DAYS: "a year" }, /KILN_ARTIFACT_EXPIRY_DAYS/],
  ])("rejects %o", (env, message) => {
    expect(() => readSettings("dev", { ...required, ...env })).toThrow(message);
  });
});
