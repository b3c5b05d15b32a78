/**
 * `npm start`: the whole of Kiln on this machine. Starts the local cloud, registers hello-service
 * with a group of three, deploys its next version through the real S3 upload path with progress
 * on screen, then says where to look. Runs until Ctrl-C (`--once` stops after the deployment).
 */
import "./polyfills.ts";
import { appendFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { type LocalCloud, startLocalCloud } from "./cloud.ts";
import { demoClients, demoService, groupAnswers, runDemo } from "./demo.ts";
import { Timescale } from "./timescale.ts";

const { values: flags } = parseArgs({
  options: {
    once: { type: "boolean", default: false },
    timescale: { type: "string", default: "0.05" },
    "state-dir": { type: "string", default: ".kiln/local" },
    ports: { type: "string", default: "fixed" },
  },
});

const say = (line: string) => process.stdout.write(`${line}\n`);
const stateDir = flags["state-dir"] ?? ".kiln/local";
mkdirSync(stateDir, { recursive: true });
// The emulators' chatter goes to a file: the screen is for the deployment.
const cloudLog = join(stateDir, "cloud.log");
process.env.POWERTOOLS_LOG_LEVEL ??= "WARN";

function printWhereToLook(cloud: LocalCloud): void {
  const e = cloud.endpoints;
  say("\nWhere to look");
  say(`  endpoints        ${join(cloud.stateDir, "endpoints.json")}`);
  say(
    `  Slack messages   ${join(cloud.stateDir, "notifications", "slack")}  (webhook sink ${cloud.slackWebhookUrl})`,
  );
  say(`  emails           ${join(cloud.stateDir, "outbox")}`);
  say(`  local cloud log  ${cloudLog}`);
  say("  dashboard        npx kiln dashboard   (prints the page's address with the local API token)");
  say(
    '  with the AWS CLI, in another terminal (`eval "$(npx kiln local env)"` sets credentials and endpoints):',
  );
  say(
    `    aws --endpoint-url ${e.ec2} ec2 describe-instances --filters Name=tag:kiln:service,Values=${demoService} --query 'Reservations[].Instances[].[InstanceId,State.Name,PrivateIpAddress]'`,
  );
  say(
    `    aws --endpoint-url ${e.autoScaling} autoscaling describe-auto-scaling-groups --auto-scaling-group-names ${demoService}`,
  );
  say(`    aws --endpoint-url ${e.dynamodb} dynamodb scan --table-name ${cloud.env.KILN_TABLE_NAME}`);
  say(
    `  S3 ${e.s3}  DynamoDB ${e.dynamodb}  Step Functions ${e.stepFunctions}  EC2 ${e.ec2}  Auto Scaling ${e.autoScaling}`,
  );
  say("\nDeploy another version");
  say("  run `npm start` again: history, images and the group survive, and it deploys the next version;");
  say(
    `  or upload one yourself: aws --endpoint-url ${e.s3} s3 cp <artifact.tgz> s3://${cloud.env.KILN_ARTIFACT_BUCKET}/artifacts/${demoService}/<version>.tgz`,
  );
}

async function main(): Promise<number> {
  const started = performance.now();
  const timescale = new Timescale(Number(flags.timescale));
  say(
    `Starting the local cloud in ${stateDir} (timescale ${timescale.factor}: AWS durations × ${timescale.factor})`,
  );
  if (flags.ports !== "fixed" && flags.ports !== "ephemeral")
    throw new Error(`--ports is fixed or ephemeral, not "${flags.ports}"`);
  const cloud = await startLocalCloud({
    stateDir,
    ports: flags.ports,
    timescale,
    log: (line) => appendFileSync(cloudLog, `${line}\n`),
  });
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    say("\nStopping the local cloud: every instance process ends; state stays in place.");
    await cloud.stop();
  };
  process.once("SIGINT", () => void stop().then(() => process.exit(130)));
  process.once("SIGTERM", () => void stop().then(() => process.exit(143)));

  try {
    const deployment = await runDemo(cloud, say);
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    say(
      `\n${deployment.status === "SUCCEEDED" ? "Deployed" : "Deployment ended"} ${demoService} ${deployment.version} (${deployment.status}) ${seconds}s after start.`,
    );
    for (const instance of await groupAnswers(demoClients(cloud)))
      say(`  ${instance.instanceId}  http://${instance.ip}:8080/  → ${instance.answer}`);
    printWhereToLook(cloud);
    if (flags.once) {
      await stop();
      return deployment.status === "SUCCEEDED" ? 0 : 1;
    }
    say("\nThe local cloud keeps running. Press Ctrl-C to stop it.");
    await new Promise(() => {});
    return 0;
  } catch (error) {
    await stop();
    throw error;
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`kiln: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
