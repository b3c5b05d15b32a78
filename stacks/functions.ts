import { type KilnFunctionName, kilnFunctionNames, sizingOf } from "../workflows/functions.ts";
import type { FunctionBundle } from "./function-bundles.ts";
import { functionVariables, type KilnVariable } from "./function-environment.ts";
import { functionStatements, type KilnArns, type PolicyStatement, scopes } from "./permissions.ts";
import type { KilnSettings } from "./settings.ts";

/**
 * Functions AWS invokes asynchronously (S3 notifications, EventBridge rules). An event they fail
 * on after Lambda's retries goes to a dead-letter queue instead of being dropped.
 */
export const asyncFunctions: readonly KilnFunctionName[] = ["onArtifact", "onExecutionEnded"];

/** The physical name of a function: stable, so its log group and ARN are known before it exists. */
export function functionName(stage: string, name: KilnFunctionName): string {
  // Lambda names are at most 64 characters; a long stage name is cut, the function name is kept.
  const room = 64 - "kiln--".length - name.length;
  return `kiln-${stage.slice(0, room)}-${name}`;
}

export interface FunctionInputs {
  settings: KilnSettings;
  /**
   * Each function's bundle, built by stacks/function-bundles.ts: SST deploys the folder as it is
   * (its `bundle` option) rather than bundling the entry itself.
   */
  bundles: Record<KilnFunctionName, FunctionBundle>;
  arns: { [K in keyof KilnArns]: $util.Input<KilnArns[K]> };
  variables: Record<KilnVariable, $util.Input<string>>;
}

export type KilnFunctions = Record<KilnFunctionName, { fn: sst.aws.Function; role: aws.iam.Role }>;

function toPolicyJson(statements: PolicyStatement[]): string {
  return JSON.stringify({
    Version: "2012-10-17",
    Statement: statements.map(({ sid, effect, actions, resources, conditions = [] }) => ({
      Sid: sid,
      Effect: effect,
      Action: actions,
      Resource: resources,
      ...(conditions.length > 0
        ? {
            Condition: Object.fromEntries(
              [...new Set(conditions.map((c) => c.test))].map((test) => [
                test,
                Object.fromEntries(
                  conditions.filter((c) => c.test === test).map((c) => [c.variable, c.values]),
                ),
              ]),
            ),
          }
        : {}),
    })),
  });
}

/** What the Lambda service itself does with a function's role: write its logs, attach to a VPC. */
function runtimeStatements(
  settings: KilnSettings,
  arns: KilnArns,
  name: KilnFunctionName,
  inVpc: boolean,
  deadLetterQueue: string | undefined,
): PolicyStatement[] {
  const { partition, region, account } = arns;
  const statements: PolicyStatement[] = [
    {
      sid: "OwnLogGroup",
      effect: "Allow",
      actions: ["logs:CreateLogStream", "logs:PutLogEvents"],
      resources: [
        `arn:${partition}:logs:${region}:${account}:log-group:/aws/lambda/${functionName(settings.stage, name)}:*`,
      ],
    },
  ];
  if (deadLetterQueue) {
    statements.push({
      sid: "DeadLetterQueue",
      effect: "Allow",
      actions: ["sqs:SendMessage"],
      resources: [deadLetterQueue],
    });
  }
  if (inVpc && settings.healthCheckVpc) {
    const ec2 = (type: string, id = "*") => `arn:${partition}:ec2:${region}:${account}:${type}/${id}`;
    statements.push(
      {
        sid: "VpcNetworkInterfaces",
        effect: "Allow",
        actions: [
          "ec2:CreateNetworkInterface",
          "ec2:DeleteNetworkInterface",
          "ec2:AssignPrivateIpAddresses",
          "ec2:UnassignPrivateIpAddresses",
        ],
        resources: [
          ec2("network-interface"),
          ...settings.healthCheckVpc.subnets.map((id) => ec2("subnet", id)),
          ...settings.healthCheckVpc.securityGroups.map((id) => ec2("security-group", id)),
        ],
      },
      {
        // DescribeNetworkInterfaces supports no resource-level permissions.
        sid: "VpcNetworkInterfacesDescribe",
        effect: "Allow",
        actions: ["ec2:DescribeNetworkInterfaces"],
        resources: ["*"],
      },
    );
  }
  return statements;
}

/** One function per entry of `kilnFunctions`, each with its own least-privilege role. */
export function createFunctions(inputs: FunctionInputs): KilnFunctions {
  const arns = $resolve(inputs.arns) as $util.Output<KilnArns>;
  const result = {} as KilnFunctions;
  for (const name of kilnFunctionNames) {
    const logicalName = name.charAt(0).toUpperCase() + name.slice(1);
    const inVpc = name === "checkCanary" && inputs.settings.healthCheckVpc !== undefined;
    const deadLetters = asyncFunctions.includes(name)
      ? new aws.sqs.Queue(`${logicalName}DeadLetters`, {
          messageRetentionSeconds: 14 * 24 * 60 * 60,
          sqsManagedSseEnabled: true,
        })
      : undefined;
    const role = new aws.iam.Role(`${logicalName}ExecutionRole`, {
      // Role names are unique per account, not per region: AWS appends a unique suffix.
      namePrefix: `${functionName(inputs.settings.stage, name).slice(0, 37)}-`,
      description: `Kiln ${name}: only what its handler calls`,
      // Only the Lambda service may assume a function's role. (SST's own function roles also
      // trust the account root under `sst dev`, so Kiln builds the roles itself.)
      assumeRolePolicy: JSON.stringify({
        Version: "2012-10-17",
        Statement: [
          { Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole" },
        ],
      }),
      inlinePolicies: [
        {
          name: "kiln",
          policy: $resolve([arns, $output(deadLetters?.arn)] as const).apply(([resolved, deadLetterQueue]) =>
            toPolicyJson([
              ...runtimeStatements(inputs.settings, resolved, name, inVpc, deadLetterQueue),
              ...functionStatements(name, scopes(resolved)),
            ]),
          ),
        },
      ],
    });
    const fn = new sst.aws.Function(logicalName, {
      name: functionName(inputs.settings.stage, name),
      description: `Kiln ${name}`,
      bundle: inputs.bundles[name].dir,
      handler: inputs.bundles[name].handler,
      runtime: "nodejs22.x",
      architecture: "arm64",
      role: role.arn,
      // Kiln's functions always run in AWS; the local cloud is how Kiln runs on a laptop.
      dev: false,
      timeout: `${sizingOf(name).timeoutSeconds} seconds`,
      memory: `${sizingOf(name).memoryMb} MB`,
      logging: { retention: "1 month", format: "json" },
      environment: Object.fromEntries(
        functionVariables[name].map((variable) => [variable, inputs.variables[variable]]),
      ),
      ...(inVpc && inputs.settings.healthCheckVpc
        ? {
            vpc: {
              privateSubnets: inputs.settings.healthCheckVpc.subnets,
              securityGroups: inputs.settings.healthCheckVpc.securityGroups,
            },
          }
        : {}),
      ...(deadLetters
        ? { transform: { function: { deadLetterConfig: { targetArn: deadLetters.arn } } } }
        : {}),
    });
    result[name] = { fn, role };
  }
  return result;
}
