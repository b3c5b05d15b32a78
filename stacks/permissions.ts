/**
 * What each Kiln function may do on AWS, in one place.
 *
 * - `functionActions`: per function, the IAM actions of the AWS SDK commands its handler calls.
 *   test/infra/function-permissions.test.ts derives the same list from each handler's code and
 *   fails when the two differ, so a role never holds an action its handler does not call.
 * - `impliedActions`: actions AWS checks on behalf of a call that has no command of its own
 *   (passing a role while launching, tagging on create), granted only beside that call.
 * - `actionScopes` and `scopes`: where each action applies, as ARNs and conditions. Every EC2 and
 *   Auto Scaling mutation is conditioned on Kiln's tags wherever the service supports it.
 */
import { kilnTag } from "../core/deploy/tags.ts";
import type { KilnFunctionName } from "../workflows/functions.ts";

/** Kiln tags every instance, volume, image and snapshot it creates `kiln:managed=true`. */
export const kilnManagedTag = { key: kilnTag.managed, value: "true" } as const;
/** An operator tags a service's auto-scaling group and launch template `kiln:service=<name>`. */
export const kilnServiceTagKey = kilnTag.service;

/** Every IAM action a Kiln function may hold (never a wildcard). */
export type KilnAction =
  | "dynamodb:GetItem"
  | "dynamodb:PutItem"
  | "dynamodb:UpdateItem"
  | "dynamodb:DeleteItem"
  | "dynamodb:Query"
  | "s3:GetObject"
  | "s3:GetObjectVersion"
  | "s3:PutObject"
  | "s3:ListBucket"
  | "states:StartExecution"
  | "states:StopExecution"
  | "states:DescribeExecution"
  | "states:SendTaskSuccess"
  | "ec2:RunInstances"
  | "ec2:CreateTags"
  | "ec2:DescribeInstances"
  | "ec2:GetConsoleOutput"
  | "ec2:TerminateInstances"
  | "ec2:CreateImage"
  | "ec2:DescribeImages"
  | "ec2:DeregisterImage"
  | "ec2:DeleteSnapshot"
  | "ec2:DescribeLaunchTemplates"
  | "ec2:DescribeLaunchTemplateVersions"
  | "ec2:CreateLaunchTemplateVersion"
  | "autoscaling:DescribeAutoScalingGroups"
  | "autoscaling:UpdateAutoScalingGroup"
  | "autoscaling:StartInstanceRefresh"
  | "autoscaling:DescribeInstanceRefreshes"
  | "autoscaling:RollbackInstanceRefresh"
  | "iam:PassRole"
  | "ses:SendEmail";

/** The IAM actions each function's handler calls (derived from its code by test/infra). */
export const functionActions: Record<KilnFunctionName, readonly KilnAction[]> = {
  onArtifact: [
    "s3:GetObject",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "states:StartExecution",
    "ses:SendEmail",
  ],
  onExecutionEnded: [
    "dynamodb:GetItem",
    "dynamodb:UpdateItem",
    "ec2:DescribeInstances",
    "ec2:TerminateInstances",
    "ec2:CreateTags",
    "states:StartExecution",
    "ses:SendEmail",
  ],
  api: [
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:Query",
    "s3:GetObject",
    "s3:PutObject",
    "states:StartExecution",
    "states:StopExecution",
    "autoscaling:DescribeAutoScalingGroups",
    "ec2:DescribeImages",
    "ec2:DescribeInstances",
    "ec2:DescribeLaunchTemplateVersions",
    "ec2:DeregisterImage",
    "ec2:DeleteSnapshot",
    "ses:SendEmail",
  ],
  notify: ["dynamodb:GetItem", "ses:SendEmail"],
  pruneImages: [
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:Query",
    "ec2:DescribeImages",
    "ec2:DescribeInstances",
    "ec2:DescribeLaunchTemplateVersions",
    "autoscaling:DescribeAutoScalingGroups",
    "ec2:DeregisterImage",
    "ec2:DeleteSnapshot",
    "ses:SendEmail",
  ],
  prepare: ["dynamodb:GetItem", "dynamodb:UpdateItem", "ec2:DescribeImages"],
  launchBuilder: [
    "dynamodb:GetItem",
    "dynamodb:UpdateItem",
    "s3:GetObject",
    "ec2:DescribeImages",
    "ec2:RunInstances",
  ],
  checkBuilder: ["ec2:DescribeInstances", "ec2:GetConsoleOutput"],
  createImage: ["dynamodb:UpdateItem", "ec2:CreateImage", "ec2:DescribeImages"],
  checkImage: ["dynamodb:UpdateItem", "ec2:DescribeImages"],
  terminateInstances: ["ec2:DescribeInstances", "ec2:TerminateInstances", "ec2:CreateTags"],
  launchCanary: [
    "dynamodb:GetItem",
    "dynamodb:UpdateItem",
    "autoscaling:DescribeAutoScalingGroups",
    "ec2:RunInstances",
  ],
  checkCanary: ["dynamodb:UpdateItem", "ec2:DescribeInstances"],
  createTemplateVersion: ["dynamodb:UpdateItem", "ec2:CreateLaunchTemplateVersion"],
  pinGroupVersion: [
    "dynamodb:GetItem",
    "dynamodb:UpdateItem",
    "autoscaling:DescribeAutoScalingGroups",
    "autoscaling:UpdateAutoScalingGroup",
    "ec2:DescribeLaunchTemplates",
  ],
  startRefresh: [
    "dynamodb:UpdateItem",
    "autoscaling:StartInstanceRefresh",
    "autoscaling:DescribeInstanceRefreshes",
  ],
  checkRefresh: ["dynamodb:UpdateItem", "autoscaling:DescribeInstanceRefreshes"],
  watch: [
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "ec2:DescribeInstances",
    "ec2:GetConsoleOutput",
    "ec2:DescribeImages",
    "autoscaling:DescribeInstanceRefreshes",
    "states:SendTaskSuccess",
  ],
  wake: [
    "dynamodb:GetItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "ec2:DescribeInstances",
    "ec2:GetConsoleOutput",
    "ec2:DescribeImages",
    "autoscaling:DescribeInstanceRefreshes",
    "states:SendTaskSuccess",
  ],
  rollBack: [
    "autoscaling:RollbackInstanceRefresh",
    "autoscaling:StartInstanceRefresh",
    "autoscaling:DescribeInstanceRefreshes",
  ],
  finish: [
    "dynamodb:GetItem",
    "dynamodb:UpdateItem",
    "ec2:DescribeInstances",
    "ec2:TerminateInstances",
    "ec2:CreateTags",
  ],
  recordOutcome: ["dynamodb:GetItem", "dynamodb:UpdateItem"],
  releaseLock: ["dynamodb:GetItem", "dynamodb:UpdateItem", "states:StartExecution"],
};

/** A place an action applies: ARNs plus the conditions that narrow them. */
export type ScopeName =
  | "historyTable"
  | "artifactObjects"
  | "artifactListing"
  | "deployStateMachine"
  | "deployExecutions"
  | "taskTokens"
  | "describeOnly"
  | "launchInputs"
  | "kilnLaunches"
  | "templateLaunches"
  | "kilnInstances"
  | "kilnImageCreation"
  | "kilnImages"
  | "kilnSnapshots"
  | "tagOnCreate"
  | "serviceTemplates"
  | "serviceGroups"
  | "instanceRole"
  | "serviceInstanceRoles"
  | "emailSender";

/** An action AWS authorises on behalf of another call, and where it applies. */
export interface ImpliedAction {
  action: KilnAction;
  scopes: readonly ScopeName[];
  why: string;
}

// Pointing a group at a template version, or refreshing it towards one, makes Auto Scaling check
// that the caller could launch from that template and pass the role its instance profile names.
const launchesFromServiceTemplate: readonly ImpliedAction[] = [
  {
    action: "ec2:RunInstances",
    scopes: ["serviceTemplates", "templateLaunches", "launchInputs"],
    why: "Auto Scaling checks the caller may launch from the template version it names",
  },
  {
    action: "iam:PassRole",
    scopes: ["serviceInstanceRoles"],
    why: "the same check covers the role of the instance profile the template names",
  },
];

/**
 * Actions with no SDK command of their own that AWS checks while serving another call. A role
 * holds one only beside the call that needs it, and only where that call needs it.
 */
export const impliedActions: Partial<Record<KilnAction, readonly ImpliedAction[]>> = {
  "ec2:RunInstances": [
    {
      action: "iam:PassRole",
      scopes: ["instanceRole", "serviceInstanceRoles"],
      why: "a builder launches with Kiln's instance profile, a canary with the one its service's template names",
    },
    {
      action: "ec2:CreateTags",
      scopes: ["tagOnCreate"],
      why: "TagSpecifications tag the instance and its volumes on create",
    },
  ],
  "ec2:CreateImage": [
    {
      action: "ec2:CreateTags",
      scopes: ["tagOnCreate"],
      why: "TagSpecifications tag the image and its snapshots on create",
    },
  ],
  "s3:GetObject": [
    {
      action: "s3:GetObjectVersion",
      scopes: ["artifactObjects"],
      why: "the bucket is versioned and Kiln reads the exact version that triggered a deployment",
    },
  ],
  "autoscaling:UpdateAutoScalingGroup": launchesFromServiceTemplate,
  "autoscaling:StartInstanceRefresh": launchesFromServiceTemplate,
};

/** Where each directly called action is allowed; each scope becomes one statement. */
export const actionScopes: Record<KilnAction, readonly ScopeName[]> = {
  "dynamodb:GetItem": ["historyTable"],
  "dynamodb:PutItem": ["historyTable"],
  "dynamodb:UpdateItem": ["historyTable"],
  "dynamodb:DeleteItem": ["historyTable"],
  "dynamodb:Query": ["historyTable"],
  "s3:GetObject": ["artifactObjects"],
  "s3:GetObjectVersion": ["artifactObjects"],
  "s3:PutObject": ["artifactObjects"],
  "s3:ListBucket": ["artifactListing"],
  "states:StartExecution": ["deployStateMachine"],
  "states:StopExecution": ["deployExecutions"],
  "states:DescribeExecution": ["deployExecutions"],
  "states:SendTaskSuccess": ["taskTokens"],
  // RunInstances authorises every resource of a launch: the instance and volumes it creates must
  // carry Kiln's tag, a launch template must be a service's, image, subnet and groups are inputs.
  "ec2:RunInstances": ["kilnLaunches", "serviceTemplates", "launchInputs"],
  // Called directly only to re-tag Kiln's own images (a rejected bake).
  "ec2:CreateTags": ["kilnImages"],
  "ec2:DescribeInstances": ["describeOnly"],
  "ec2:GetConsoleOutput": ["kilnInstances"],
  "ec2:TerminateInstances": ["kilnInstances"],
  "ec2:CreateImage": ["kilnInstances", "kilnImageCreation"],
  "ec2:DescribeImages": ["describeOnly"],
  "ec2:DeregisterImage": ["kilnImages"],
  "ec2:DeleteSnapshot": ["kilnSnapshots"],
  "ec2:DescribeLaunchTemplates": ["describeOnly"],
  "ec2:DescribeLaunchTemplateVersions": ["describeOnly"],
  "ec2:CreateLaunchTemplateVersion": ["serviceTemplates"],
  "autoscaling:DescribeAutoScalingGroups": ["describeOnly"],
  "autoscaling:UpdateAutoScalingGroup": ["serviceGroups"],
  "autoscaling:StartInstanceRefresh": ["serviceGroups"],
  "autoscaling:DescribeInstanceRefreshes": ["describeOnly"],
  "autoscaling:RollbackInstanceRefresh": ["serviceGroups"],
  "iam:PassRole": ["instanceRole"],
  "ses:SendEmail": ["emailSender"],
};

export interface IamCondition {
  test: string;
  variable: string;
  values: string[];
}

export interface Scope {
  resources: string[];
  conditions?: IamCondition[];
}

/** The names and ARNs that scopes resolve against. */
export interface KilnArns {
  partition: string;
  region: string;
  account: string;
  historyTable: string;
  artifactsBucket: string;
  stateMachine: string;
  stateMachineName: string;
  instanceRole: string;
  serviceInstanceRoles: string[];
  emailFrom: string;
  emailConfigurationSet: string;
}

/** Resolves every scope to ARNs and conditions for one stage. */
export function scopes(arns: KilnArns): Record<ScopeName, Scope> {
  const { partition, region, account } = arns;
  const ec2 = (type: string) => `arn:${partition}:ec2:${region}:${account}:${type}/*`;
  // Images and snapshots may be owned by another account (public base images): no account field.
  const image = `arn:${partition}:ec2:${region}::image/*`;
  const snapshot = `arn:${partition}:ec2:${region}::snapshot/*`;
  const requestTagged: IamCondition = {
    test: "StringEquals",
    variable: `aws:RequestTag/${kilnManagedTag.key}`,
    values: [kilnManagedTag.value],
  };
  const resourceTagged: IamCondition = {
    test: "StringEquals",
    variable: `aws:ResourceTag/${kilnManagedTag.key}`,
    values: [kilnManagedTag.value],
  };
  const passedToEc2: IamCondition = {
    test: "StringEquals",
    variable: "iam:PassedToService",
    values: ["ec2.amazonaws.com"],
  };
  return {
    historyTable: { resources: [arns.historyTable, `${arns.historyTable}/index/*`] },
    artifactObjects: { resources: [`arn:${partition}:s3:::${arns.artifactsBucket}/artifacts/*`] },
    artifactListing: {
      resources: [`arn:${partition}:s3:::${arns.artifactsBucket}`],
      conditions: [{ test: "StringLike", variable: "s3:prefix", values: ["artifacts/*"] }],
    },
    deployStateMachine: { resources: [arns.stateMachine] },
    deployExecutions: {
      resources: [`arn:${partition}:states:${region}:${account}:execution:${arns.stateMachineName}:*`],
    },
    // A callback task is named by its token, not an ARN: only activity tasks can be scoped, so
    // AWS requires "*" for answering the deploy workflow's own callback tasks.
    taskTokens: { resources: ["*"] },
    // Describe and list actions support no resource-level permissions: AWS requires "*".
    describeOnly: { resources: ["*"] },
    launchInputs: {
      resources: [
        image,
        ec2("subnet"),
        ec2("security-group"),
        ec2("network-interface"),
        ec2("key-pair"),
        ec2("placement-group"),
      ],
    },
    kilnLaunches: { resources: [ec2("instance"), ec2("volume")], conditions: [requestTagged] },
    // What Auto Scaling launches from a service's template carries the group's tags, not Kiln's;
    // such a launch is allowed only through a template, itself limited to service templates.
    templateLaunches: {
      resources: [ec2("instance"), ec2("volume")],
      conditions: [{ test: "ArnLike", variable: "ec2:LaunchTemplate", values: [ec2("launch-template")] }],
    },
    kilnInstances: { resources: [ec2("instance")], conditions: [resourceTagged] },
    kilnImageCreation: { resources: [image, snapshot], conditions: [requestTagged] },
    kilnImages: { resources: [image], conditions: [resourceTagged] },
    kilnSnapshots: { resources: [snapshot], conditions: [resourceTagged] },
    // Tags can be written only while creating Kiln's own resources, never onto anything else.
    tagOnCreate: {
      resources: [ec2("instance"), ec2("volume"), image, snapshot],
      conditions: [
        { test: "StringEquals", variable: "ec2:CreateAction", values: ["RunInstances", "CreateImage"] },
      ],
    },
    serviceTemplates: {
      resources: [ec2("launch-template")],
      conditions: [{ test: "StringLike", variable: `aws:ResourceTag/${kilnServiceTagKey}`, values: ["?*"] }],
    },
    serviceGroups: {
      resources: [
        `arn:${partition}:autoscaling:${region}:${account}:autoScalingGroup:*:autoScalingGroupName/*`,
      ],
      conditions: [
        { test: "StringLike", variable: `autoscaling:ResourceTag/${kilnServiceTagKey}`, values: ["?*"] },
      ],
    },
    instanceRole: { resources: [arns.instanceRole], conditions: [passedToEc2] },
    serviceInstanceRoles: { resources: arns.serviceInstanceRoles, conditions: [passedToEc2] },
    emailSender: {
      // In the SES sandbox recipients are authorised as identities too, so the resource is every
      // identity of the account and the sender is pinned by condition instead.
      resources: [`arn:${partition}:ses:${region}:${account}:identity/*`, arns.emailConfigurationSet],
      conditions: [{ test: "StringEquals", variable: "ses:FromAddress", values: [arns.emailFrom] }],
    },
  };
}

/** Every (action, scope) a function's role holds: its direct calls and what they imply. */
export function functionGrants(name: KilnFunctionName): Array<{ action: KilnAction; scope: ScopeName }> {
  const grants: Array<{ action: KilnAction; scope: ScopeName }> = [];
  for (const action of functionActions[name]) {
    for (const scope of actionScopes[action]) grants.push({ action, scope });
    for (const implied of impliedActions[action] ?? []) {
      for (const scope of implied.scopes) grants.push({ action: implied.action, scope });
    }
  }
  return grants;
}

export interface PolicyStatement {
  sid: string;
  effect: "Allow";
  actions: string[];
  resources: string[];
  conditions?: IamCondition[];
}

/** The statements of one function's role: its grants grouped by scope, empty scopes dropped. */
export function functionStatements(
  name: KilnFunctionName,
  resolved: Record<ScopeName, Scope>,
): PolicyStatement[] {
  const byScope = new Map<ScopeName, Set<string>>();
  for (const { action, scope } of functionGrants(name))
    byScope.set(scope, (byScope.get(scope) ?? new Set()).add(action));
  return [...byScope]
    .filter(([scope]) => resolved[scope].resources.length > 0)
    .map(([scope, actions]) => ({
      sid: scope.charAt(0).toUpperCase() + scope.slice(1),
      effect: "Allow" as const,
      actions: [...actions].sort(),
      resources: resolved[scope].resources,
      ...(resolved[scope].conditions ? { conditions: resolved[scope].conditions } : {}),
    }));
}
