/// <reference path="./.sst/platform/config.d.ts" />

/**
 * Kiln on AWS. `npx sst deploy --stage <stage>` creates one independent Kiln per stage; the
 * `production` stage keeps its bucket and table when removed and refuses `sst remove`.
 * Deploy-time settings come from `KILN_*` variables (see stacks/settings.ts and docs/deploying.md).
 */
export default $config({
  app(input) {
    const production = input?.stage === "production";
    return {
      name: "kiln",
      removal: production ? "retain" : "remove",
      protect: production,
      home: "aws",
    };
  },
  async run() {
    const { readSettings } = await import("./stacks/settings.ts");
    const { createStorage, artifactPrefix } = await import("./stacks/storage.ts");
    const { createInstanceRoles } = await import("./stacks/instance-roles.ts");
    const { createNotifications } = await import("./stacks/notifications.ts");
    const { buildFunctionBundles } = await import("./stacks/function-bundles.ts");
    const { createFunctions } = await import("./stacks/functions.ts");
    const { createWorkflow, deployStateMachineName } = await import("./stacks/workflow.ts");
    const { createApi, routeApi } = await import("./stacks/api.ts");
    const { createSchedules } = await import("./stacks/schedules.ts");

    const settings = readSettings($app.stage);
    const partition = aws.getPartitionOutput().partition;
    const region = aws.getRegionOutput().region;
    const account = aws.getCallerIdentityOutput().accountId;

    const { artifacts, history } = createStorage(settings, account);
    const instance = createInstanceRoles(artifacts);
    const { slackWebhookUrl, email } = createNotifications(settings);
    // Before the functions: notifications link to the dashboard, which the API serves at its root.
    const api = createApi();

    // Functions need the state machine's ARN and the state machine needs theirs: its name is
    // fixed, so its ARN is known first.
    const stateMachineName = deployStateMachineName(settings.stage);
    const stateMachineArn = $interpolate`arn:${partition}:states:${region}:${account}:stateMachine:${stateMachineName}`;

    // Kiln bundles its functions itself (stacks/function-bundles.ts), under SST's working folder;
    // SST deploys each function's folder as it is.
    const { bundles, warnings } = await buildFunctionBundles({
      root: $cli.paths.root,
      outdir: `${$cli.paths.work}/kiln-functions`,
    });
    for (const warning of warnings) console.warn(`kiln: bundling functions: ${warning}`);

    const functions = createFunctions({
      settings,
      bundles,
      arns: {
        partition,
        region,
        account,
        historyTable: history.arn,
        artifactsBucket: artifacts.name,
        stateMachine: stateMachineArn,
        stateMachineName,
        instanceRole: instance.role.arn,
        serviceInstanceRoles: settings.serviceInstanceRoleArns,
        emailFrom: settings.emailFrom,
        emailConfigurationSet: email.nodes.configurationSet.arn,
      },
      variables: {
        KILN_TABLE_NAME: history.name,
        KILN_ARTIFACT_BUCKET: artifacts.name,
        KILN_STATE_MACHINE_ARN: stateMachineArn,
        KILN_BUILDER_INSTANCE_PROFILE: instance.profile.name,
        KILN_SLACK_WEBHOOK_URL: slackWebhookUrl.value,
        KILN_EMAIL_FROM: settings.emailFrom,
        KILN_DASHBOARD_URL: api.url,
      },
    });

    const workflow = createWorkflow({ settings, functions, account });
    artifacts.notify({
      notifications: [
        {
          name: "OnArtifact",
          function: functions.onArtifact.fn.arn,
          events: ["s3:ObjectCreated:*"],
          filterPrefix: artifactPrefix,
          filterSuffix: ".tgz",
        },
      ],
    });
    routeApi(api, settings, functions.api.fn.arn);
    createSchedules(settings, functions.pruneImages.fn.arn);

    return {
      api: api.url,
      artifactsBucket: artifacts.name,
      historyTable: history.name,
      stateMachine: workflow.stateMachine.arn,
    };
  },
});
