/**
 * Kiln's AWS infrastructure, proven offline: `sst.config.ts` runs under Pulumi mocks (see
 * synth.ts) and these tests read what it would deploy. Two stages are synthesized: `production`
 * with default settings, and a personal stage under `sst dev` with every optional setting on.
 */
import fs from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { historyTableDefinition, historyTableTtlAttribute } from "../../core/aws/history-table.ts";
import { probeWindowCapMs } from "../../core/deploy/canary.ts";
import { longestHealthRequestMs } from "../../core/service-config.ts";
import type { ApiDeps } from "../../functions/api/api-deps.ts";
import { apiRoutes } from "../../functions/api/api-routes.ts";
import { functionVariables, localOnlyVariables } from "../../stacks/function-environment.ts";
import { functionGrants, kilnManagedTag, kilnServiceTagKey } from "../../stacks/permissions.ts";
import { buildDeployWorkflow } from "../../workflows/deploy-workflow.ts";
import { wakeRules } from "../../workflows/event-rules.ts";
import { type KilnFunctionName, kilnFunctionNames, kilnFunctions } from "../../workflows/functions.ts";
import { allowedActions, type Statement, statementsOf, trustedPrincipals } from "./iam-policy.ts";
import { created, only, type RecordedResource, resource, type Synthesis, synthesize } from "./synth.ts";

const root = path.resolve(import.meta.dirname, "../..");
const serviceRole = "arn:aws:iam::123456789012:role/orders-instance";

let production: Synthesis;
let personal: Synthesis;

beforeAll(async () => {
  [production, personal] = await Promise.all([
    synthesize({ stage: "production" }),
    synthesize({
      stage: "alice",
      dev: true,
      env: {
        KILN_JWT_ISSUER: "https://auth.example.com/",
        KILN_JWT_AUDIENCES: "kiln-cli,kiln-ci",
        KILN_HEALTH_CHECK_SUBNETS: "subnet-0a,subnet-0b",
        KILN_HEALTH_CHECK_SECURITY_GROUPS: "sg-0c",
        KILN_SERVICE_INSTANCE_ROLE_ARNS: serviceRole,
        KILN_PRUNE_SCHEDULE: "cron(0 3 * * ? *)",
        SST_SECRET_SlackWebhookUrl: undefined,
      },
    }),
  ]);
}, 120_000);

const pascal = (name: string) => name.charAt(0).toUpperCase() + name.slice(1);

/** The Lambda function SST created for a Kiln function. */
function lambdaOf(s: Synthesis, name: KilnFunctionName): RecordedResource {
  return only(
    created(s, "aws:lambda/function:Function").filter((r) => r.parent === pascal(name)),
    `Lambda function for ${name}`,
  );
}

const arnOf = (s: Synthesis, name: KilnFunctionName) =>
  `arn:aws:lambda:us-east-1:123456789012:function:${lambdaOf(s, name).inputs.name}`;

/** Every statement of a role's inline policies. */
function inlineStatements(role: RecordedResource | undefined): Statement[] {
  return ((role?.inputs.inlinePolicies ?? []) as Array<{ policy: string }>).flatMap((p) =>
    statementsOf(p.policy),
  );
}

/** The role the function's Lambda actually runs with, and the statements of its inline policies. */
function roleOf(s: Synthesis, name: KilnFunctionName) {
  const arn: string = lambdaOf(s, name).inputs.role;
  const role = only(
    created(s, "aws:iam/role:Role").filter(
      (r) => arn === `arn:aws:iam::123456789012:role/${r.inputs.name ?? r.name}`,
    ),
    `role ${arn} of ${name}`,
  );
  return { role, statements: inlineStatements(role) };
}

/** Statements about what the handler does, without the Lambda runtime's own (logs, VPC). */
const handlerStatements = (statements: Statement[]) =>
  statements.filter(
    (s) => s.Sid !== "OwnLogGroup" && s.Sid !== "DeadLetterQueue" && !s.Sid?.startsWith("Vpc"),
  );

function stateMachine(s: Synthesis) {
  return resource(s, "aws:sfn/stateMachine:StateMachine", "DeployWorkflow");
}

function taskResources(definition: { States: Record<string, Record<string, unknown>> }): string[] {
  const found: string[] = [];
  const visit = (machine: { States?: Record<string, Record<string, unknown>> }) => {
    for (const state of Object.values(machine.States ?? {})) {
      if (state.Type !== "Task") continue;
      const resource = String(state.Resource);
      const parameters = state.Parameters as { FunctionName?: unknown } | undefined;
      // The lambda:invoke integrations name their function in Parameters.
      found.push(
        resource.startsWith("arn:aws:states:::lambda:invoke") ? String(parameters?.FunctionName) : resource,
      );
      for (const branch of (state.Branches as object[] | undefined) ?? []) visit(branch);
      if (state.Iterator) visit(state.Iterator as object);
      if (state.ItemProcessor) visit(state.ItemProcessor as object);
    }
  };
  visit(definition);
  return found;
}

describe("artifacts bucket", () => {
  it("is versioned, encrypted and blocks every kind of public access", () => {
    const bucket = resource(production, "aws:s3/bucket:Bucket", "ArtifactsBucket").inputs.bucket;
    const versioning = created(production, "aws:s3/bucketVersioning:BucketVersioning").find(
      (r) => r.inputs.bucket === bucket,
    );
    expect(versioning?.inputs.versioningConfiguration).toEqual({ status: "Enabled" });

    const encryption = created(
      production,
      "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    ).find((r) => r.inputs.bucket === bucket);
    expect(encryption?.inputs.rules?.[0]?.applyServerSideEncryptionByDefault?.sseAlgorithm).toMatch(
      /^(AES256|aws:kms)$/,
    );

    const block = created(production, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").find(
      (r) => r.inputs.bucket === bucket,
    );
    expect(block?.inputs).toMatchObject({
      blockPublicAcls: true,
      blockPublicPolicy: true,
      ignorePublicAcls: true,
      restrictPublicBuckets: true,
    });
  });

  it("refuses requests that do not use TLS", () => {
    const bucket = resource(production, "aws:s3/bucket:Bucket", "ArtifactsBucket").inputs.bucket;
    const policy = created(production, "aws:s3/bucketPolicy:BucketPolicy").find(
      (r) => r.inputs.bucket === bucket,
    );
    const deny = statementsOf(policy?.inputs.policy).find((s) => s.Effect === "Deny");
    expect(deny?.Condition?.Bool?.["aws:SecureTransport"]).toEqual(["false"]);
  });

  it("expires replaced artifact versions and abandoned uploads under artifacts/", () => {
    const bucket = resource(production, "aws:s3/bucket:Bucket", "ArtifactsBucket").inputs.bucket;
    const lifecycles = created(
      production,
      "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    ).filter((r) => r.inputs.bucket === bucket);
    // S3 keeps one lifecycle configuration per bucket: a second one would replace the first.
    expect(lifecycles).toHaveLength(1);
    const rules = only(lifecycles, "lifecycle configuration").inputs.rules as Array<{
      noncurrentVersionExpiration?: unknown;
      abortIncompleteMultipartUpload?: unknown;
      expiration?: { expiredObjectDeleteMarker?: boolean };
    }>;
    const versions = rules.find((r) => r.noncurrentVersionExpiration);
    expect(versions).toMatchObject({
      status: "Enabled",
      filter: { prefix: "artifacts/" },
      noncurrentVersionExpiration: { noncurrentDays: 30 },
    });
    expect(versions?.abortIncompleteMultipartUpload).toEqual({ daysAfterInitiation: 7 });
    expect(rules.some((r) => r.expiration?.expiredObjectDeleteMarker === true)).toBe(true);
  });

  it("notifies onArtifact, and only it, of .tgz objects created under artifacts/", () => {
    const bucket = resource(production, "aws:s3/bucket:Bucket", "ArtifactsBucket").inputs.bucket;
    const notifications = created(production, "aws:s3/bucketNotification:BucketNotification");
    expect(notifications).toHaveLength(1);
    const { inputs } = only(notifications, "bucket notification");
    expect(inputs.bucket).toBe(bucket);
    expect(inputs.queues ?? []).toEqual([]);
    expect(inputs.topics ?? []).toEqual([]);
    expect(inputs.lambdaFunctions).toEqual([
      expect.objectContaining({
        lambdaFunctionArn: arnOf(production, "onArtifact"),
        events: ["s3:ObjectCreated:*"],
        filterPrefix: "artifacts/",
        filterSuffix: ".tgz",
      }),
    ]);
  });

  it("lets S3 invoke onArtifact only for this bucket in this account", () => {
    const permissions = created(production, "aws:lambda/permission:Permission").filter(
      (r) => r.inputs.principal === "s3.amazonaws.com",
    );
    expect(permissions).toHaveLength(1);
    expect(only(permissions, "S3 invoke permission").inputs).toMatchObject({
      action: "lambda:InvokeFunction",
      function: arnOf(production, "onArtifact"),
      sourceArn: `arn:aws:s3:::${resource(production, "aws:s3/bucket:Bucket", "ArtifactsBucket").inputs.bucket}`,
      sourceAccount: "123456789012",
    });
  });
});

describe("history table", () => {
  it("has the key schema and indexes of the table the local cloud creates", () => {
    const { inputs } = resource(production, "aws:dynamodb/table:Table", "HistoryTable");
    const local = historyTableDefinition("history");
    expect(inputs.billingMode).toBe(local.BillingMode);
    expect([...inputs.attributes].sort((a, b) => a.name.localeCompare(b.name))).toEqual(
      local.AttributeDefinitions.map((a) => ({ name: a.AttributeName, type: a.AttributeType })).sort((a, b) =>
        a.name.localeCompare(b.name),
      ),
    );
    expect(inputs.hashKey).toBe(local.KeySchema.find((k) => k.KeyType === "HASH")?.AttributeName);
    expect(inputs.rangeKey).toBe(local.KeySchema.find((k) => k.KeyType === "RANGE")?.AttributeName);
    const indexes = (inputs.globalSecondaryIndexes as Array<Record<string, string>>).map((i) => ({
      name: i.name,
      hashKey: i.hashKey,
      rangeKey: i.rangeKey,
      projectionType: i.projectionType,
    }));
    expect(indexes).toEqual(
      local.GlobalSecondaryIndexes.map((i) => ({
        name: i.IndexName,
        hashKey: i.KeySchema[0]?.AttributeName,
        rangeKey: i.KeySchema[1]?.AttributeName,
        projectionType: i.Projection.ProjectionType,
      })),
    );
  });

  it("expires items by the attribute the watcher registry writes", () => {
    expect(resource(production, "aws:dynamodb/table:Table", "HistoryTable").inputs.ttl).toEqual({
      attributeName: historyTableTtlAttribute,
      enabled: true,
    });
  });

  it("keeps point-in-time recovery on", () => {
    expect(
      resource(production, "aws:dynamodb/table:Table", "HistoryTable").inputs.pointInTimeRecovery,
    ).toEqual({ enabled: true });
    expect(resource(personal, "aws:dynamodb/table:Table", "HistoryTable").inputs.pointInTimeRecovery).toEqual(
      { enabled: true },
    );
  });
});

describe("production stage", () => {
  it("retains its data on removal and is protected from `sst remove`", () => {
    expect(production.app).toMatchObject({ removal: "retain", protect: true });
    expect(production.outputs?._protect).toBe(true);
    expect(resource(production, "aws:dynamodb/table:Table", "HistoryTable").retainOnDelete).toBe(true);
    expect(resource(production, "aws:s3/bucket:Bucket", "ArtifactsBucket").retainOnDelete).toBe(true);
    expect(
      resource(production, "aws:dynamodb/table:Table", "HistoryTable").inputs.deletionProtectionEnabled,
    ).toBe(true);
    expect(resource(production, "aws:s3/bucket:Bucket", "ArtifactsBucket").inputs.forceDestroy).toBe(false);
  });

  it("is the only stage that does: other stages are removed completely", () => {
    expect(personal.app).toMatchObject({ removal: "remove", protect: false });
    expect(resource(personal, "aws:dynamodb/table:Table", "HistoryTable").retainOnDelete).toBeFalsy();
    expect(resource(personal, "aws:s3/bucket:Bucket", "ArtifactsBucket").inputs.forceDestroy).toBe(true);
  });
});

describe("deploy state machine", () => {
  it("deploys the local cloud's JSONPath ASL with only the function ARNs substituted", () => {
    const deployed = JSON.parse(stateMachine(production).inputs.definition);
    expect(deployed).toEqual(buildDeployWorkflow((name) => arnOf(production, name)));
    // Every function got its own ARN, so a swapped binding would show above.
    const arns = kilnFunctionNames.map((name) => arnOf(production, name));
    expect(new Set(arns).size).toBe(arns.length);
  });

  it("is a Standard workflow that logs every execution event to its own log group", () => {
    const { inputs } = stateMachine(production);
    expect(inputs.type).toBe("STANDARD");
    const logGroup = resource(production, "aws:cloudwatch/logGroup:LogGroup", "DeployWorkflowLogs");
    expect(inputs.loggingConfiguration).toEqual({
      level: "ALL",
      includeExecutionData: true,
      logDestination: `arn:aws:logs:us-east-1:123456789012:log-group:${logGroup.inputs.name}:*`,
    });
    expect(logGroup.inputs.retentionInDays).toBeGreaterThan(0);
  });

  it("has a function behind every task state, built from its kilnFunctions entry", () => {
    const deployed = JSON.parse(stateMachine(production).inputs.definition);
    const byArn = new Map(kilnFunctionNames.map((name) => [arnOf(production, name), name]));
    const tasks = taskResources(deployed);
    expect(tasks.length).toBeGreaterThan(0);
    for (const arn of tasks) {
      const name = byArn.get(arn);
      if (!name) throw new Error(`task resource ${arn} is no function of the stage`);
      const build = production.builds.find((b) => b.functionID === pascal(name));
      expect(build?.handler).toBe(kilnFunctions[name].replace(/\.ts$/, ".handler"));
      expect(fs.existsSync(path.join(root, kilnFunctions[name]))).toBe(true);
    }
  });

  it("runs with a role only Step Functions of this account can assume, invoking only its task functions", () => {
    const role = resource(production, "aws:iam/role:Role", "DeployWorkflowRole");
    expect(trustedPrincipals(role.inputs.assumeRolePolicy)).toEqual(["Service:states.amazonaws.com"]);
    expect(
      statementsOf(role.inputs.assumeRolePolicy)[0]?.Condition?.StringEquals?.["aws:SourceAccount"],
    ).toEqual(["123456789012"]);
    expect(stateMachine(production).inputs.roleArn).toBe(
      `arn:aws:iam::123456789012:role/${role.inputs.name ?? "DeployWorkflowRole"}`,
    );
    const statements = inlineStatements(role);
    const invoke = statements.filter((s) => s.Action.includes("lambda:InvokeFunction"));
    const tasks = [...new Set(taskResources(JSON.parse(stateMachine(production).inputs.definition)))];
    expect(invoke.flatMap((s) => s.Resource).sort()).toEqual(
      tasks.flatMap((arn) => [arn, `${arn}:*`]).sort(),
    );
  });
});

describe("AWS events that wake paused deployments", () => {
  it("each rule of workflows/event-rules.ts exists with its pattern and invokes wake, and only wake", () => {
    const rules = created(production, "aws:cloudwatch/eventRule:EventRule").filter((r) =>
      r.name.startsWith("Wake"),
    );
    expect(rules.map((r) => r.name).sort()).toEqual(
      Object.keys(wakeRules)
        .map((n) => `Wake${n}`)
        .sort(),
    );
    for (const [name, rule] of Object.entries(wakeRules)) {
      const deployed = resource(production, "aws:cloudwatch/eventRule:EventRule", `Wake${name}`);
      expect(JSON.parse(deployed.inputs.eventPattern)).toEqual(rule.pattern);
      const target = resource(production, "aws:cloudwatch/eventTarget:EventTarget", `Wake${name}Target`);
      expect(target.inputs.arn).toBe(arnOf(production, "wake"));
      const invoke = resource(production, "aws:lambda/permission:Permission", `Wake${name}Invoke`);
      expect(invoke.inputs).toMatchObject({
        principal: "events.amazonaws.com",
        function: lambdaOf(production, "wake").inputs.name,
        sourceArn: expect.stringContaining(":rule/"),
      });
    }
  });
});

describe("deploy executions that end outside their own paths", () => {
  it("are sent to onExecutionEnded when aborted, timed out or failed", () => {
    const rule = resource(production, "aws:cloudwatch/eventRule:EventRule", "DeployExecutionEnded");
    expect(JSON.parse(rule.inputs.eventPattern)).toEqual({
      source: ["aws.states"],
      "detail-type": ["Step Functions Execution Status Change"],
      detail: {
        status: ["ABORTED", "TIMED_OUT", "FAILED"],
        stateMachineArn: ["arn:aws:states:us-east-1:123456789012:stateMachine:kiln-production-deploy"],
      },
    });
    const target = resource(
      production,
      "aws:cloudwatch/eventTarget:EventTarget",
      "DeployExecutionEndedTarget",
    );
    expect(target.inputs.arn).toBe(arnOf(production, "onExecutionEnded"));
    const invoke = created(production, "aws:lambda/permission:Permission").filter(
      (r) => r.inputs.principal === "events.amazonaws.com" && r.name === "DeployExecutionEndedInvoke",
    );
    expect(only(invoke, "EventBridge invoke permission").inputs).toMatchObject({
      function: lambdaOf(production, "onExecutionEnded").inputs.name,
      sourceArn: expect.stringContaining(":rule/"),
    });
  });

  it("match the state machine the functions are told to start", () => {
    const arn = `arn:aws:states:us-east-1:123456789012:stateMachine:${stateMachine(production).inputs.name}`;
    expect(lambdaOf(production, "onArtifact").inputs.environment.variables.KILN_STATE_MACHINE_ARN).toBe(arn);
    expect(production.outputs?.stateMachine).toBe(arn);
  });
});

describe("functions", () => {
  it("are one Lambda function per kilnFunctions entry, on nodejs22.x", () => {
    expect(created(production, "aws:lambda/function:Function")).toHaveLength(kilnFunctionNames.length);
    for (const name of kilnFunctionNames) {
      expect(lambdaOf(production, name).inputs.runtime).toBe("nodejs22.x");
      expect(production.builds.find((b) => b.functionID === pascal(name))?.handler).toBe(
        kilnFunctions[name].replace(/\.ts$/, ".handler"),
      );
    }
  });

  it.each(kilnFunctionNames)("%s runs with its own role, the one Kiln builds for it", (name) => {
    expect(roleOf(production, name).role.name).toBe(`${pascal(name)}ExecutionRole`);
    const others = kilnFunctionNames
      .filter((other) => other !== name)
      .map((other) => lambdaOf(production, other).inputs.role);
    expect(others).not.toContain(lambdaOf(production, name).inputs.role);
  });

  it.each(kilnFunctionNames)("%s is given exactly the Kiln variables its code reads", (name) => {
    const variables = Object.keys(lambdaOf(production, name).inputs.environment.variables).filter((v) =>
      v.startsWith("KILN_"),
    );
    expect(variables.sort()).toEqual([...functionVariables[name]].sort());
  });

  it("hands notifications the Slack webhook secret and the SES sender", () => {
    const { variables } = lambdaOf(production, "notify").inputs.environment;
    expect(variables.KILN_SLACK_WEBHOOK_URL).toBe("https://hooks.slack.com/services/T000/B000/mock");
    expect(variables.KILN_EMAIL_FROM).toBe("kiln@example.com");
    expect(
      created(production, "aws:sesv2/emailIdentity:EmailIdentity").map((r) => r.inputs.emailIdentity),
    ).toEqual(["kiln@example.com"]);
    expect(created(production, "sst:sst:Secret").map((r) => r.name)).toContain("SlackWebhookUrl");
  });

  it.each(["onArtifact", "onExecutionEnded"] as const)(
    "%s keeps the events it fails on in its own encrypted dead-letter queue",
    (name) => {
      const queue = resource(production, "aws:sqs/queue:Queue", `${pascal(name)}DeadLetters`);
      expect(queue.inputs.sqsManagedSseEnabled).toBe(true);
      const arn = `arn:aws:sqs:us-east-1:123456789012:${queue.inputs.name ?? queue.name}`;
      expect(lambdaOf(production, name).inputs.deadLetterConfig).toEqual({ targetArn: arn });
      const send = roleOf(production, name).statements.filter((s) =>
        s.Action.some((a) => a.startsWith("sqs:")),
      );
      expect(send).toEqual([expect.objectContaining({ Action: ["sqs:SendMessage"], Resource: [arn] })]);
    },
  );

  it.each(["notify", "onExecutionEnded", "pruneImages", "api"] as const)(
    "%s links its notifications to the dashboard at the API's own URL",
    (name) => {
      const url = production.outputs?.api;
      expect(url).toEqual(expect.stringMatching(/^https:\/\//));
      expect(lambdaOf(production, name).inputs.environment.variables.KILN_DASHBOARD_URL).toBe(url);
    },
  );

  it("deploy without Slack until its webhook secret is set", () => {
    expect(lambdaOf(personal, "notify").inputs.environment.variables.KILN_SLACK_WEBHOOK_URL).toBe("");
  });

  it("gives the canary health check the time to probe for its whole window and wait out a last GET", () => {
    expect(lambdaOf(production, "checkCanary").inputs.timeout * 1000).toBeGreaterThan(
      probeWindowCapMs + longestHealthRequestMs,
    );
  });

  it("puts the canary health check in the configured VPC, and no other function", () => {
    expect(lambdaOf(personal, "checkCanary").inputs.vpcConfig).toMatchObject({
      subnetIds: ["subnet-0a", "subnet-0b"],
      securityGroupIds: ["sg-0c"],
    });
    for (const name of kilnFunctionNames.filter((n) => n !== "checkCanary"))
      expect(lambdaOf(personal, name).inputs.vpcConfig).toBeUndefined();
    expect(lambdaOf(production, "checkCanary").inputs.vpcConfig).toBeUndefined();
  });
});

describe("function roles", () => {
  it.each(kilnFunctionNames)(
    "%s is trusted by lambda.amazonaws.com alone, under deploy and under sst dev",
    (name) => {
      expect(trustedPrincipals(roleOf(production, name).role.inputs.assumeRolePolicy)).toEqual([
        "Service:lambda.amazonaws.com",
      ]);
      expect(trustedPrincipals(roleOf(personal, name).role.inputs.assumeRolePolicy)).toEqual([
        "Service:lambda.amazonaws.com",
      ]);
    },
  );

  it("are not SST's own roles, which trust the account root under sst dev", () => {
    // SST looks the role up (a read), it does not create one per function.
    const sstRoles = created(personal, "aws:iam/role:Role").filter((r) =>
      kilnFunctionNames.some((n) => r.name === `${pascal(n)}Role`),
    );
    expect(sstRoles).toEqual([]);
    // `sst dev` would otherwise swap in its live-debugging bridge, which needs that root trust.
    expect(personal.rpcMethods).not.toContain("Runtime.AddTarget");
  });

  // Passing a service's own instance role is granted only to stages that name such roles.
  const granted = (name: KilnFunctionName, serviceRoles: boolean) =>
    [
      ...new Set(
        functionGrants(name)
          .filter((g) => serviceRoles || g.scope !== "serviceInstanceRoles")
          .map((g) => g.action),
      ),
    ].sort();

  it.each(kilnFunctionNames)("%s holds exactly the actions the permission table grants it", (name) => {
    expect([...allowedActions(handlerStatements(roleOf(production, name).statements))].sort()).toEqual(
      granted(name, false),
    );
    expect([...allowedActions(handlerStatements(roleOf(personal, name).statements))].sort()).toEqual(
      granted(name, true),
    );
  });

  it.each(kilnFunctionNames)("%s has no managed policies and may write only its own log group", (name) => {
    const { role, statements } = roleOf(production, name);
    expect(role.inputs.managedPolicyArns ?? []).toEqual([]);
    const logs = statements.filter((s) => s.Action.some((a) => a.startsWith("logs:")));
    expect(logs).toEqual([
      expect.objectContaining({
        Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
        Resource: [
          `arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/${lambdaOf(production, name).inputs.name}:*`,
        ],
      }),
    ]);
  });

  it("allow no wildcard action, and a wildcard resource only for actions that support no other", () => {
    for (const s of [production, personal]) {
      for (const role of created(s, "aws:iam/role:Role")) {
        for (const statement of inlineStatements(role)) {
          for (const action of statement.Action) expect(action, `${role.name}`).not.toMatch(/\*/);
          if (statement.Resource.includes("*")) {
            expect(
              // SendTaskSuccess answers a callback task named by its token, which IAM cannot scope.
              statement.Action.every((a) =>
                /^(ec2|autoscaling):Describe|^logs:|^states:SendTaskSuccess$/.test(a),
              ),
              `${role.name} ${statement.Action}`,
            ).toBe(true);
          }
        }
      }
    }
  });

  it("condition every EC2 and Auto Scaling change on Kiln's tags", () => {
    const mutation = /^(ec2|autoscaling):(?!Describe)/;
    const tagged = (s: Statement) =>
      Object.values(s.Condition ?? {}).some((keys) =>
        Object.keys(keys).some((key) =>
          /^(aws|autoscaling):(Request|Resource)Tag\/kiln:|^ec2:(CreateAction|LaunchTemplate)$/.test(key),
        ),
      );
    for (const name of kilnFunctionNames) {
      for (const statement of handlerStatements(roleOf(production, name).statements)) {
        const mutations = statement.Action.filter((a) => mutation.test(a));
        if (mutations.length === 0) continue;
        // An image is only read by a launch (the base image may be Amazon's); everything a launch
        // creates, and every other change to an image, must be conditioned on a tag.
        const changed = mutations.every((a) => a === "ec2:RunInstances")
          ? /:(instance|volume|snapshot|launch-template|autoScalingGroup)[/:]/
          : /:(instance|volume|image|snapshot|launch-template|autoScalingGroup)[/:]/;
        if (statement.Resource.some((r) => changed.test(r)))
          expect(tagged(statement), `${name} ${statement.Sid}`).toBe(true);
      }
    }
  });

  it("let a builder launch only instances tagged as Kiln's, with Kiln's instance role", () => {
    const statements = roleOf(production, "launchBuilder").statements;
    const launches = statements.find(
      (s) => s.Action.includes("ec2:RunInstances") && s.Resource.some((r) => r.endsWith(":instance/*")),
    );
    expect(launches?.Condition?.StringEquals?.[`aws:RequestTag/${kilnManagedTag.key}`]).toEqual([
      kilnManagedTag.value,
    ]);
    const instanceRole = resource(production, "aws:iam/role:Role", "BuilderInstanceRole");
    const passRole = statements.filter((s) => s.Action.includes("iam:PassRole"));
    expect(passRole.flatMap((s) => s.Resource)).toEqual([
      `arn:aws:iam::123456789012:role/${instanceRole.inputs.name ?? "BuilderInstanceRole"}`,
    ]);
    expect(passRole[0]?.Condition?.StringEquals?.["iam:PassedToService"]).toEqual(["ec2.amazonaws.com"]);
  });

  it("let only launching functions pass a role, and only the configured service roles besides Kiln's", () => {
    const passers = (s: Synthesis) =>
      kilnFunctionNames.filter((name) =>
        roleOf(s, name).statements.some((st) => st.Action.includes("iam:PassRole")),
      );
    expect(passers(production).sort()).toEqual(["launchBuilder", "launchCanary"]);
    expect(passers(personal).sort()).toEqual([
      "launchBuilder",
      "launchCanary",
      "pinGroupVersion",
      "rollBack",
      "startRefresh",
    ]);
    const pinPass = roleOf(personal, "pinGroupVersion").statements.filter((s) =>
      s.Action.includes("iam:PassRole"),
    );
    expect(pinPass.flatMap((s) => s.Resource)).toEqual([serviceRole]);
  });

  it("let functions roll only groups and templates an operator tagged with a service", () => {
    const groups = roleOf(production, "pinGroupVersion").statements.find((s) =>
      s.Action.includes("autoscaling:UpdateAutoScalingGroup"),
    );
    expect(groups?.Condition?.StringLike?.[`autoscaling:ResourceTag/${kilnServiceTagKey}`]).toEqual(["?*"]);
    const templates = roleOf(production, "createTemplateVersion").statements.find((s) =>
      s.Action.includes("ec2:CreateLaunchTemplateVersion"),
    );
    expect(templates?.Condition?.StringLike?.[`aws:ResourceTag/${kilnServiceTagKey}`]).toEqual(["?*"]);
  });

  it("let functions read and write the history table and its indexes, nothing else in DynamoDB", () => {
    const table = `arn:aws:dynamodb:us-east-1:123456789012:table/${resource(production, "aws:dynamodb/table:Table", "HistoryTable").inputs.name}`;
    for (const name of kilnFunctionNames) {
      for (const statement of roleOf(production, name).statements.filter((s) =>
        s.Action.some((a) => a.startsWith("dynamodb:")),
      )) {
        expect(statement.Resource).toEqual([table, `${table}/index/*`]);
      }
    }
  });

  it("let email be sent only from the configured sender", () => {
    const send = roleOf(production, "notify").statements.find((s) => s.Action.includes("ses:SendEmail"));
    expect(send?.Condition?.StringEquals?.["ses:FromAddress"]).toEqual(["kiln@example.com"]);
  });
});

describe("builder and canary instance role", () => {
  it("is assumed by EC2 and reads only the artifacts prefix", () => {
    const role = resource(production, "aws:iam/role:Role", "BuilderInstanceRole");
    expect(trustedPrincipals(role.inputs.assumeRolePolicy)).toEqual(["Service:ec2.amazonaws.com"]);
    const statements = inlineStatements(role);
    const bucket = resource(production, "aws:s3/bucket:Bucket", "ArtifactsBucket").inputs.bucket;
    expect(statements).toEqual([
      expect.objectContaining({
        Effect: "Allow",
        Action: ["s3:GetObject", "s3:GetObjectVersion"],
        Resource: [`arn:aws:s3:::${bucket}/artifacts/*`],
      }),
    ]);
    expect(role.inputs.managedPolicyArns ?? []).toEqual([]);
  });

  it("is what the instance profile handed to builder and canary launches holds", () => {
    const profile = resource(production, "aws:iam/instanceProfile:InstanceProfile", "BuilderInstanceProfile");
    const role = resource(production, "aws:iam/role:Role", "BuilderInstanceRole");
    expect(profile.inputs.role).toBe(role.inputs.name ?? "BuilderInstanceRole");
    expect(
      lambdaOf(production, "launchBuilder").inputs.environment.variables.KILN_BUILDER_INSTANCE_PROFILE,
    ).toBe(profile.inputs.name ?? "BuilderInstanceProfile");
  });

  it("launches with EBS encryption on by default, kept when the stage is removed", () => {
    const encryption = created(production, "aws:ebs/encryptionByDefault:EncryptionByDefault");
    expect(encryption.map((r) => r.inputs.enabled)).toEqual([true]);
    expect(encryption[0]?.retainOnDelete).toBe(true);
  });
});

describe("operator API", () => {
  const routes = (s: Synthesis) => created(s, "aws:apigatewayv2/route:Route");
  // The route table the api function serves; its handlers are never run here.
  const served = apiRoutes({} as ApiDeps);
  const isPublic = (routeKey: string) => served.some((r) => r.public && `${r.method} ${r.path}` === routeKey);

  it("routes exactly the routes the api function serves", () => {
    expect(
      routes(production)
        .map((r) => r.inputs.routeKey)
        .sort(),
    ).toEqual(served.map((r) => `${r.method} ${r.path}`).sort());
  });

  it("sends every route to the api function", () => {
    const integrations = created(production, "aws:apigatewayv2/integration:Integration");
    expect(integrations.length).toBe(routes(production).length);
    for (const integration of integrations)
      expect(integration.inputs.integrationUri).toBe(arnOf(production, "api"));
  });

  it("requires an IAM (SigV4) signature on every route but the public ones the api function declares", () => {
    expect(routes(production).filter((r) => isPublic(r.inputs.routeKey))).toHaveLength(2);
    for (const route of routes(production)) {
      expect(route.inputs.authorizationType, route.inputs.routeKey).toBe(
        isPublic(route.inputs.routeKey) ? "NONE" : "AWS_IAM",
      );
    }
  });

  it("requires a JWT from the configured issuer instead when one is set", () => {
    const authorizers = created(personal, "aws:apigatewayv2/authorizer:Authorizer");
    expect(authorizers.map((a) => a.inputs.jwtConfiguration)).toEqual([
      { issuer: "https://auth.example.com/", audiences: ["kiln-cli", "kiln-ci"] },
    ]);
    for (const route of routes(personal).filter((r) => !isPublic(r.inputs.routeKey))) {
      expect(route.inputs.authorizationType, route.inputs.routeKey).toBe("JWT");
      expect(route.inputs.authorizerId).toBe(`${only(authorizers, "JWT authorizer").name}-id`);
    }
  });

  it("never hands the api function the local cloud's bearer token", () => {
    const variables = Object.keys(lambdaOf(production, "api").inputs.environment.variables);
    for (const local of localOnlyVariables) expect(variables).not.toContain(local);
  });
});

describe("prune schedule", () => {
  it("invokes pruneImages daily, or on the configured schedule, through a role that can invoke nothing else", () => {
    const schedules = created(production, "aws:scheduler/schedule:Schedule");
    expect(schedules).toHaveLength(1);
    const schedule = only(schedules, "prune schedule");
    expect(schedule.inputs).toMatchObject({
      scheduleExpression: "rate(1 day)",
      state: "ENABLED",
      target: { arn: arnOf(production, "pruneImages") },
    });
    expect(created(personal, "aws:scheduler/schedule:Schedule")[0]?.inputs.scheduleExpression).toBe(
      "cron(0 3 * * ? *)",
    );

    const roleArn: string = schedule.inputs.target.roleArn;
    const role = created(production, "aws:iam/role:Role").find((r) =>
      roleArn.endsWith(`/${r.inputs.name ?? r.name}`),
    );
    expect(trustedPrincipals(role?.inputs.assumeRolePolicy)).toEqual(["Service:scheduler.amazonaws.com"]);
    const statements = inlineStatements(role);
    expect(statements.map((s) => [s.Action, s.Resource])).toEqual([
      [["lambda:InvokeFunction"], [arnOf(production, "pruneImages")]],
    ]);
  });
});

describe("sst-env.d.ts", () => {
  it("declares every linkable component the stage creates, with its type", () => {
    const types: Record<string, string> = {
      "sst:aws:Bucket": "sst.aws.Bucket",
      "sst:aws:Dynamo": "sst.aws.Dynamo",
      "sst:aws:ApiGatewayV2": "sst.aws.ApiGatewayV2",
      "sst:aws:Email": "sst.aws.Email",
      "sst:sst:Secret": "sst.sst.Secret",
      "sst:aws:Function": "sst.aws.Function",
    };
    const expected = production.resources
      .filter((r) => !r.read && r.type in types)
      .map((r) => `${r.name}: ${types[r.type]}`)
      .sort();
    const declared = [
      ...fs
        .readFileSync(path.join(root, "sst-env.d.ts"), "utf8")
        .matchAll(/"?(\w+)"?: \{[^}]*?"?type"?: "([\w.]+)"/g),
    ]
      .map(([, name, type]) => `${name}: ${type}`)
      .sort();
    expect(declared).toEqual(expected);
  });
});
