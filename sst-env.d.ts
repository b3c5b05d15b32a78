/*
 * Kiln's linkable resources, as `sst deploy` and `sst dev` generate this file (they rewrite it).
 * Kept in the repository so `Resource.<Name>` type-checks without a deploy; Kiln's handlers read
 * plain KILN_* variables instead. test/infra/stacks.test.ts fails when a component is missing.
 */

import "sst";

declare module "sst" {
  export interface Resource {
    Api: {
      name: string;
      type: "sst.aws.Function";
    };
    Artifacts: {
      name: string;
      type: "sst.aws.Bucket";
    };
    CheckBuilder: {
      name: string;
      type: "sst.aws.Function";
    };
    CheckCanary: {
      name: string;
      type: "sst.aws.Function";
    };
    CheckImage: {
      name: string;
      type: "sst.aws.Function";
    };
    CheckRefresh: {
      name: string;
      type: "sst.aws.Function";
    };
    CreateImage: {
      name: string;
      type: "sst.aws.Function";
    };
    CreateTemplateVersion: {
      name: string;
      type: "sst.aws.Function";
    };
    Finish: {
      name: string;
      type: "sst.aws.Function";
    };
    History: {
      name: string;
      type: "sst.aws.Dynamo";
    };
    LaunchBuilder: {
      name: string;
      type: "sst.aws.Function";
    };
    LaunchCanary: {
      name: string;
      type: "sst.aws.Function";
    };
    NotificationEmail: {
      configSet: string;
      sender: string;
      type: "sst.aws.Email";
    };
    Notify: {
      name: string;
      type: "sst.aws.Function";
    };
    OnArtifact: {
      name: string;
      type: "sst.aws.Function";
    };
    OnExecutionEnded: {
      name: string;
      type: "sst.aws.Function";
    };
    OperatorApi: {
      url: string;
      type: "sst.aws.ApiGatewayV2";
    };
    PinGroupVersion: {
      name: string;
      type: "sst.aws.Function";
    };
    Prepare: {
      name: string;
      type: "sst.aws.Function";
    };
    PruneImages: {
      name: string;
      type: "sst.aws.Function";
    };
    RecordOutcome: {
      name: string;
      type: "sst.aws.Function";
    };
    ReleaseLock: {
      name: string;
      type: "sst.aws.Function";
    };
    RollBack: {
      name: string;
      type: "sst.aws.Function";
    };
    SlackWebhookUrl: {
      value: string;
      type: "sst.sst.Secret";
    };
    StartRefresh: {
      name: string;
      type: "sst.aws.Function";
    };
    TerminateInstances: {
      name: string;
      type: "sst.aws.Function";
    };
    Wake: {
      name: string;
      type: "sst.aws.Function";
    };
    Watch: {
      name: string;
      type: "sst.aws.Function";
    };
  }
}
