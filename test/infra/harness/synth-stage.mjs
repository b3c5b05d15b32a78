/**
 * Runs Kiln's `sst.config.ts` the way `sst deploy` would, but against Pulumi mocks: no AWS, no
 * Pulumi engine. Every resource the stacks register is recorded with its inputs and resource
 * options, and the whole record is written as JSON to the file named by KILN_SYNTH_OUT.
 *
 * It is plain JavaScript (type-checked by tsconfig.infra.json) so the project's own type-check,
 * which has no @pulumi packages, leaves it alone. It is bundled by test/infra/synth.ts into .sst/platform/.test-out/ with packages left
 * external, so @pulumi/* resolve from the platform's own node_modules: with two copies of
 * @pulumi/pulumi loaded, the mocks silently do not apply. Options come from the environment:
 * KILN_SYNTH_STAGE (stage name), KILN_SYNTH_DEV ("1" to synthesize as `sst dev` does).
 */
import crypto from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

/**
 * @typedef {object} Recorded
 * @property {string} type
 * @property {string} name
 * @property {Record<string, any>} inputs
 * @property {boolean} read a lookup of an existing resource (`Resource.get`), not something the stage creates
 * @property {string | undefined} [parent]
 * @property {boolean | undefined} [retainOnDelete]
 * @property {boolean | undefined} [protect]
 */

const root = process.cwd();
const stage = process.env.KILN_SYNTH_STAGE ?? "ci";
const dev = process.env.KILN_SYNTH_DEV === "1";
const out = process.env.KILN_SYNTH_OUT;
if (!out) throw new Error("KILN_SYNTH_OUT must name the file the synthesis is written to");
const account = "123456789012";
const region = "us-east-1";

/** @type {Recorded[]} */
const resources = [];
/** @type {Map<string, { retainOnDelete?: boolean, protect?: boolean, parent?: string }>} */
const optionsByName = new Map();
const work = fs.mkdtempSync(path.join(os.tmpdir(), "kiln-synth-"));

// The SST CLI answers components over a local RPC server (SST_SERVER); this one answers the
// calls Kiln's components make. A function that brings its own bundle gets it back as it is, as
// the CLI does; any other would get a stand-in bundle instead of an esbuild build.
const fakeBundle = path.join(work, "bundle");
fs.mkdirSync(fakeBundle, { recursive: true });
fs.writeFileSync(path.join(fakeBundle, "index.mjs"), "export const handler = async () => ({});\n");
/** @type {string[]} */
const rpcMethods = [];
/**
 * @typedef {object} RecordedBuild
 * @property {string} functionID
 * @property {string} handler
 * @property {string} runtime
 * @property {string | undefined} [bundle] the folder the function deploys as it is
 * @property {Array<{ path: string, bytes: number, sha256: string }> | undefined} [files] what that folder held when SST asked for it
 */
/** @type {RecordedBuild[]} */
const builds = [];

/** @param {string} dir @returns {Array<{ path: string, bytes: number, sha256: string }>} */
function filesIn(dir) {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => {
      const file = path.join(entry.parentPath, entry.name);
      const contents = fs.readFileSync(file);
      return {
        path: path.relative(dir, file),
        bytes: contents.length,
        sha256: crypto.createHash("sha256").update(contents).digest("hex"),
      };
    })
    .sort((a, b) => a.path.localeCompare(b.path));
}
const server = http.createServer((req, res) => {
  let body = "";
  req.on("data", (chunk) => {
    body += chunk;
  });
  req.on("end", () => {
    const { method, params } = JSON.parse(body);
    rpcMethods.push(method);
    // The CLI's RPC wraps arguments in a one-element array.
    const build = Array.isArray(params) ? params[0] : params;
    if (method === "Runtime.Build")
      builds.push({
        functionID: build?.functionID,
        handler: build?.handler,
        runtime: build?.runtime,
        ...(build?.bundle ? { bundle: build.bundle, files: filesIn(build.bundle) } : {}),
      });
    /** @type {Record<string, unknown>} */
    const results = {
      "Provider.Aws.Bootstrap": {
        asset: "mock-asset-bucket",
        assetEcrRegistryId: "1",
        assetEcrUrl: "x",
        state: "mock-state",
      },
      "Runtime.Build": build?.bundle
        ? { handler: build.handler, out: build.bundle, errors: [], sourcemaps: [] }
        : { handler: "index.handler", out: fakeBundle, errors: [], sourcemaps: [] },
      "Runtime.AddTarget": {},
      "Provider.Aws.Appsync": { http: "https://appsync.mock", realtime: "wss://appsync.mock" },
    };
    res.setHeader("content-type", "application/json");
    res.end(
      JSON.stringify(
        method in results
          ? { result: results[method], error: null }
          : { result: null, error: `rpc: can't find ${method}` },
      ),
    );
  });
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(undefined)));
server.unref();
process.env.SST_SERVER = `http://127.0.0.1:${/** @type {import("node:net").AddressInfo} */ (server.address()).port}`;
process.env.SST_AWS_REGION = region;

/**
 * ARNs shaped like AWS's, so ARN-derived names and patterns in the stacks behave as deployed.
 * @param {string} type @param {string} name @param {Record<string, any>} inputs
 */
function mockArn(type, name, inputs) {
  const physical = inputs.name ?? name;
  switch (type) {
    case "aws:lambda/function:Function":
      return `arn:aws:lambda:${region}:${account}:function:${physical}`;
    case "aws:iam/role:Role":
      return `arn:aws:iam::${account}:role/${physical}`;
    case "aws:iam/instanceProfile:InstanceProfile":
      return `arn:aws:iam::${account}:instance-profile/${physical}`;
    case "aws:s3/bucket:Bucket":
      return `arn:aws:s3:::${inputs.bucket ?? physical}`;
    case "aws:dynamodb/table:Table":
      return `arn:aws:dynamodb:${region}:${account}:table/${physical}`;
    case "aws:sfn/stateMachine:StateMachine":
      return `arn:aws:states:${region}:${account}:stateMachine:${physical}`;
    case "aws:cloudwatch/logGroup:LogGroup":
      return `arn:aws:logs:${region}:${account}:log-group:${physical}`;
    case "aws:sqs/queue:Queue":
      return `arn:aws:sqs:${region}:${account}:${physical}`;
    case "aws:cloudwatch/eventRule:EventRule":
      return `arn:aws:events:${region}:${account}:rule/${physical}`;
    case "aws:sesv2/emailIdentity:EmailIdentity":
      return `arn:aws:ses:${region}:${account}:identity/${inputs.emailIdentity ?? physical}`;
    case "aws:sesv2/configurationSet:ConfigurationSet":
      return `arn:aws:ses:${region}:${account}:configuration-set/${inputs.configurationSetName ?? physical}`;
    default:
      return `arn:aws:mock:${region}:${account}:${type.split(":").pop()}/${physical}`;
  }
}

await pulumi.runtime.setMocks(
  {
    newResource(args) {
      const options = optionsByName.get(`${args.type}::${args.name}`);
      resources.push({
        type: args.type,
        name: args.name,
        inputs: args.inputs,
        read: args.id !== undefined && args.id !== "",
        parent: options?.parent,
        retainOnDelete: options?.retainOnDelete,
        protect: options?.protect,
      });
      const arn = mockArn(args.type, args.name, args.inputs);
      const physical = args.inputs.name ?? args.name;
      return {
        id: args.id || `${args.name}-id`,
        state: {
          ...args.inputs,
          arn,
          name: physical,
          bucket: args.inputs.bucket ?? `${args.name.toLowerCase()}-bucket`,
          apiEndpoint: "https://mock.execute-api.us-east-1.amazonaws.com",
          executionArn: `arn:aws:execute-api:${region}:${account}:${args.name}`,
          invokeArn: `arn:aws:apigateway:${region}:lambda:path/2015-03-31/functions/${arn}/invocations`,
          hex: "abcd",
          base64: "YWJjZA==",
        },
      };
    },
    call(args) {
      switch (args.token) {
        case "aws:iam/getPolicyDocument:getPolicyDocument":
          // Inline policies come out empty unless the document is rendered.
          return {
            statements: args.inputs.statements,
            json: JSON.stringify({
              Version: "2012-10-17",
              Statement: renderStatements(args.inputs.statements ?? []),
            }),
          };
        case "aws:index/getRegion:getRegion":
          return { name: region, region, id: region };
        case "aws:index/getCallerIdentity:getCallerIdentity":
          return { accountId: account, arn: `arn:aws:iam::${account}:user/mock`, userId: "mock" };
        case "aws:index/getPartition:getPartition":
          return { partition: "aws", dnsSuffix: "amazonaws.com" };
        default:
          return args.inputs;
      }
    },
  },
  "kiln",
  stage,
  false,
);

/**
 * getPolicyDocument's statements rendered as IAM JSON, as the AWS provider would.
 * @param {Array<Record<string, any>>} statements
 */
function renderStatements(statements) {
  return statements.map((s) => ({
    ...(s.sid ? { Sid: s.sid } : {}),
    Effect: s.effect ?? "Allow",
    ...(s.actions ? { Action: s.actions } : {}),
    ...(s.resources ? { Resource: s.resources } : {}),
    ...(s.principals
      ? {
          Principal: Object.fromEntries(
            s.principals.map((/** @type {{ type: string, identifiers: string[] }} */ p) => [
              p.type,
              p.identifiers,
            ]),
          ),
        }
      : {}),
    ...(s.conditions
      ? {
          Condition: Object.fromEntries(
            s.conditions.map((/** @type {{ test: string, variable: string, values: string[] }} */ c) => [
              c.test,
              { [c.variable]: c.values },
            ]),
          ),
        }
      : {}),
  }));
}

// The globals `sst` gives sst.config.ts and the stacks; components read `$app` when loaded.
const g = /** @type {Record<string, unknown>} */ (globalThis);
Object.assign(g, {
  aws,
  $util: pulumi,
  $output: pulumi.output,
  $resolve: pulumi.all,
  $interpolate: pulumi.interpolate,
  $concat: pulumi.concat,
  $jsonParse: pulumi.jsonParse,
  $jsonStringify: pulumi.jsonStringify,
  $config: (/** @type {unknown} */ config) => config,
  $dev: dev,
  $cli: {
    command: dev ? "dev" : "deploy",
    rpc: process.env.SST_SERVER,
    paths: { root, work, platform: path.join(root, ".sst/platform"), home: work },
    state: { version: {} },
  },
});

/** @type {{ app(input: { stage: string }): { name: string, removal?: string, protect?: boolean, home: string }, run(): Promise<Record<string, unknown>> }} */
const config = /** @type {any} */ (await import("../../../sst.config.ts")).default;
const app = config.app({ stage });
g.$app = {
  name: app.name,
  stage,
  removal: app.removal ?? "retain",
  protect: app.protect ?? false,
  providers: { aws: { region } },
};

const sst = await import("../../../.sst/platform/src/components/index");
const { $transform, $asset } = await import("../../../.sst/platform/src/components/component");
const { Link } = await import("../../../.sst/platform/src/components/link");
Object.assign(g, { sst, $transform, $asset, $linkable: Link.linkable });
const { run } = await import("../../../.sst/platform/src/auto/run");

/** @type {unknown} */
let failure;
process.on("unhandledRejection", (error) => {
  failure ??= error;
});

// The stack resource is the root every resource (and SST's stack transformations) hangs from.
const outputs = await pulumi.runtime
  .runInPulumiStack(() =>
    run(async () => {
      // Registered after SST's own transformations, so it sees the options they settle on.
      pulumi.runtime.registerStackTransformation((args) => {
        optionsByName.set(`${args.type}::${args.name}`, {
          retainOnDelete: args.opts.retainOnDelete,
          protect: args.opts.protect,
          parent: args.opts.parent
            ? /** @type {{ __name?: string }} */ (/** @type {unknown} */ (args.opts.parent)).__name
            : undefined,
        });
        return undefined;
      });
      return config.run();
    }),
  )
  .catch((/** @type {unknown} */ error) => {
    failure ??= error;
    return {};
  });

// Outputs can resolve before every apply() has registered its resources: wait until it is quiet.
let seen = -1;
for (let waited = 0; waited < 30_000 && resources.length !== seen; waited += 300) {
  seen = resources.length;
  await new Promise((resolve) => setTimeout(resolve, 300));
}

fs.writeFileSync(
  out,
  JSON.stringify(
    {
      stage,
      dev,
      app,
      outputs: outputs ?? null,
      resources,
      rpcMethods: [...new Set(rpcMethods)],
      builds,
      error: failure ? String(/** @type {Error} */ (failure).stack ?? failure) : null,
    },
    null,
    1,
  ),
);
fs.rmSync(work, { recursive: true, force: true });
process.exit(0);
