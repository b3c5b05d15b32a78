import { buildDeployWorkflow } from "../workflows/deploy-workflow.ts";
import { deployEndedRule, wakeRules } from "../workflows/event-rules.ts";
import { type KilnFunctionName, kilnFunctionNames } from "../workflows/functions.ts";
import type { KilnFunctions } from "./functions.ts";
import type { KilnSettings } from "./settings.ts";

/** The deploy state machine's name: fixed, so functions can be given its ARN before it exists. */
export function deployStateMachineName(stage: string): string {
  return `kiln-${stage}-deploy`;
}

/**
 * Every Lambda function an ASL document's Task states invoke — named by `Resource`, or by
 * `Parameters.FunctionName` for the `lambda:invoke` integrations — inside Parallel branches and
 * Map iterators too.
 */
export function taskResources(definition: unknown): string[] {
  const found: string[] = [];
  const visit = (machine: { States?: Record<string, Record<string, unknown>> }) => {
    for (const state of Object.values(machine.States ?? {})) {
      if (state.Type === "Task" && typeof state.Resource === "string") found.push(invokedFunction(state));
      for (const branch of (state.Branches as object[] | undefined) ?? []) visit(branch);
      if (state.Iterator) visit(state.Iterator as object);
      if (state.ItemProcessor) visit(state.ItemProcessor as object);
    }
  };
  visit(definition as { States?: Record<string, Record<string, unknown>> });
  return [...new Set(found)];
}

function invokedFunction(state: Record<string, unknown>): string {
  const resource = String(state.Resource);
  if (!resource.startsWith("arn:aws:states:::lambda:invoke")) return resource;
  const parameters = state.Parameters as { FunctionName?: unknown } | undefined;
  if (typeof parameters?.FunctionName !== "string")
    throw new Error(`a ${resource} task names no FunctionName in its Parameters`);
  return parameters.FunctionName;
}

export interface WorkflowInputs {
  settings: KilnSettings;
  functions: KilnFunctions;
  account: $util.Input<string>;
}

/** The deploy workflow: the same JSONPath ASL the local cloud runs, with real function ARNs. */
export function createWorkflow({ settings, functions, account }: WorkflowInputs) {
  const name = deployStateMachineName(settings.stage);
  const functionArns = $resolve(
    Object.fromEntries(kilnFunctionNames.map((fn) => [fn, functions[fn].fn.arn])) as Record<
      KilnFunctionName,
      $util.Output<string>
    >,
  );
  const definition = functionArns.apply((arns) => buildDeployWorkflow((fn) => arns[fn]));
  const invoked = definition.apply((asl) => taskResources(asl));

  // Vended-logs delivery requires a log group under /aws/vendedlogs/ (or a resource policy).
  const logGroup = new aws.cloudwatch.LogGroup("DeployWorkflowLogs", {
    name: `/aws/vendedlogs/states/${name}`,
    retentionInDays: 30,
  });

  const role = new aws.iam.Role("DeployWorkflowRole", {
    description: "Kiln deploy workflow: invoke its task functions, deliver its logs",
    assumeRolePolicy: $jsonStringify({
      Version: "2012-10-17",
      Statement: [
        {
          Effect: "Allow",
          Principal: { Service: "states.amazonaws.com" },
          Action: "sts:AssumeRole",
          // Only this account's state machines may use the role (confused-deputy guard).
          Condition: { StringEquals: { "aws:SourceAccount": account } },
        },
      ],
    }),
    inlinePolicies: [
      {
        name: "kiln",
        policy: $jsonStringify({
          Version: "2012-10-17",
          Statement: [
            {
              Sid: "InvokeTaskFunctions",
              Effect: "Allow",
              Action: ["lambda:InvokeFunction"],
              Resource: invoked.apply((arns) => arns.flatMap((arn) => [arn, `${arn}:*`])),
            },
            {
              // Log delivery actions support no resource-level permissions: AWS requires "*".
              Sid: "DeliverExecutionLogs",
              Effect: "Allow",
              Action: [
                "logs:CreateLogDelivery",
                "logs:GetLogDelivery",
                "logs:UpdateLogDelivery",
                "logs:DeleteLogDelivery",
                "logs:ListLogDeliveries",
                "logs:PutResourcePolicy",
                "logs:DescribeResourcePolicies",
                "logs:DescribeLogGroups",
              ],
              Resource: ["*"],
            },
          ],
        }),
      },
    ],
  });

  const stateMachine = new aws.sfn.StateMachine("DeployWorkflow", {
    name,
    type: "STANDARD",
    roleArn: role.arn,
    definition: definition.apply((asl) => JSON.stringify(asl)),
    loggingConfiguration: {
      logDestination: $interpolate`${logGroup.arn}:*`,
      includeExecutionData: true,
      level: "ALL",
    },
  });

  // An execution that is stopped or times out runs no Catch: this rule runs the same cleanup.
  const endedRule = deployEndedRule(stateMachine.arn);
  const ended = new aws.cloudwatch.EventRule("DeployExecutionEnded", {
    description: endedRule.description,
    eventPattern: $jsonStringify(endedRule.pattern),
  });
  new aws.cloudwatch.EventTarget("DeployExecutionEndedTarget", {
    rule: ended.name,
    arn: functions[endedRule.target].fn.arn,
    retryPolicy: { maximumEventAgeInSeconds: 24 * 60 * 60, maximumRetryAttempts: 185 },
  });
  new aws.lambda.Permission("DeployExecutionEndedInvoke", {
    action: "lambda:InvokeFunction",
    function: functions.onExecutionEnded.fn.name,
    principal: "events.amazonaws.com",
    sourceArn: ended.arn,
  });

  // AWS's own events wake deployments paused on a builder, an image or an instance refresh.
  // EventBridge cannot filter EC2 state changes by tag: `wake` ignores resources nobody waits on.
  const wakeRuleResources = Object.entries(wakeRules).map(([ruleName, rule]) => {
    const eventRule = new aws.cloudwatch.EventRule(`Wake${ruleName}`, {
      description: rule.description,
      eventPattern: JSON.stringify(rule.pattern),
    });
    const target = functions[rule.target].fn;
    new aws.cloudwatch.EventTarget(`Wake${ruleName}Target`, {
      rule: eventRule.name,
      arn: target.arn,
      // A wake-up older than the longest poll interval is worth nothing: the workflow checked.
      retryPolicy: { maximumEventAgeInSeconds: 15 * 60, maximumRetryAttempts: 10 },
    });
    new aws.lambda.Permission(`Wake${ruleName}Invoke`, {
      action: "lambda:InvokeFunction",
      function: target.name,
      principal: "events.amazonaws.com",
      sourceArn: eventRule.arn,
    });
    return eventRule;
  });

  return { stateMachine, role, logGroup, rule: ended, wakeRules: wakeRuleResources };
}
