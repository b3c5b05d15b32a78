/**
 * Kiln builds its functions' bundles itself (stacks/function-bundles.ts) and SST deploys them as
 * they are: each function's code is the bundle built from its own kilnFunctions entry, and the
 * builder's plugins keep what they promise (the SDK's unused schemas, zod's unused half and the
 * credential providers Lambda never reaches stay out; the credentials Lambda gives still work).
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  buildFunctionBundles,
  type FunctionBundles,
  functionBuildOptions,
  inlineConstantKeys,
} from "../../stacks/function-bundles.ts";
import { type KilnFunctionName, kilnFunctionNames, kilnFunctions } from "../../workflows/functions.ts";
import { created, only, type Synthesis, synthesize } from "./synth.ts";

const root = path.resolve(import.meta.dirname, "../..");
const pascal = (name: string) => name.charAt(0).toUpperCase() + name.slice(1);
const kib = (bytes: number) => bytes / 1024;

let work: string;
let production: Synthesis;
let built: FunctionBundles;

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), "kiln-bundles-test-"));
  [production, built] = await Promise.all([
    synthesize({ stage: "production" }),
    buildFunctionBundles({ root, outdir: path.join(work, "bundles") }),
  ]);
}, 180_000);

afterAll(() => {
  fs.rmSync(work, { recursive: true, force: true });
});

/** Bytes a bundle holds from input files matching `pattern`. */
function bytesFrom(name: KilnFunctionName, pattern: RegExp): number {
  return Object.entries(built.bundles[name].inputs)
    .filter(([input]) => pattern.test(input))
    .reduce((total, [, bytes]) => total + bytes, 0);
}

describe("each function", () => {
  it.each(kilnFunctionNames)("%s deploys the bundle built from its own entry, and nothing else", (name) => {
    const build = only(
      production.builds.filter((b) => b.functionID === pascal(name)),
      `build of ${name}`,
    );
    const entry = kilnFunctions[name];
    // SST deploys the folder as it is: it does not bundle the entry itself.
    expect(build.bundle).toBeDefined();
    expect(path.basename(build.bundle ?? "")).toBe(name);
    expect(build.handler).toBe(entry.replace(/\.ts$/, ".handler"));
    const bundled = entry.replace(/\.ts$/, ".mjs");
    expect(build.files?.map((file) => file.path)).toEqual([bundled]);
    // The same bytes as the builder makes from the entry on its own.
    const expected = createHash("sha256").update(fs.readFileSync(built.bundles[name].file)).digest("hex");
    expect(build.files?.[0]?.sha256).toBe(expected);
    const lambda = only(
      created(production, "aws:lambda/function:Function").filter((r) => r.parent === pascal(name)),
      `Lambda function for ${name}`,
    );
    expect(lambda.inputs.handler).toBe(build.handler);
  });

  it("has a folder of its own", () => {
    const folders = production.builds.map((b) => b.bundle);
    expect(new Set(folders).size).toBe(kilnFunctionNames.length);
  });

  it("is built without esbuild warnings (an import dropped as free of side effects, for one)", () => {
    expect(built.warnings).toEqual([]);
  });
});

describe("the builder's plugins", () => {
  it("write the SDK schemas' computed keys as the literals their constants hold", () => {
    const source = [
      'const _eQN = "ec2QueryName";',
      'const _xN = "xmlName";',
      'const _m = "min";',
      "export var A$ = [3, n0, _A, 0, [_M], [[1, { [_eQN]: `Min`,",
      "                [_xN]: _m }], [1, { [_other]: 1 }]]];",
      "const pick = (o) => o[_xN];",
    ].join("\n");
    expect(inlineConstantKeys(source)).toBe(
      [
        'const _eQN = "ec2QueryName";',
        'const _xN = "xmlName";',
        'const _m = "min";',
        'export var A$ = [3, n0, _A, 0, [_M], [[1, { "ec2QueryName": `Min`,',
        '                "xmlName": _m }], [1, { [_other]: 1 }]]];',
        "const pick = (o) => o[_xN];",
      ].join("\n"),
    );
  });

  it.each(kilnFunctionNames)("keep out of %s what it does not use", (name) => {
    // Every EC2 shape, before: 550 KiB. A function keeps the shapes of the calls it makes.
    expect(kib(bytesFrom(name, /@aws-sdk\/client-ec2\/dist-es\/schemas\//))).toBeLessThan(80);
    // Classic zod bundled whole is about 440 KiB, its locales 250 of them.
    expect(bytesFrom(name, /node_modules\/zod\/v4\/locales\/(?!en\.js)/)).toBe(0);
    expect(kib(bytesFrom(name, /node_modules\/zod\//))).toBeLessThan(150);
    // The credential providers and the STS, SSO and sign-in clients Lambda never reaches.
    expect(
      bytesFrom(
        name,
        /@aws-sdk\/(nested-clients|credential-provider-(ini|sso|process|web-identity|login))\//,
      ),
    ).toBe(0);
  });
});

describe("a bundled client's credentials", () => {
  let bundle: string;

  beforeAll(async () => {
    const entry = path.join(work, "credentials-entry.ts");
    fs.writeFileSync(
      entry,
      [
        `import { documentClient, ec2Client } from ${JSON.stringify(path.join(root, "core/aws/clients.ts"))};`,
        "const ec2 = await ec2Client().config.credentials();",
        "const dynamo = await documentClient().config.credentials();",
        "process.stdout.write(JSON.stringify({ ec2: ec2.accessKeyId, dynamo: dynamo.accessKeyId, token: ec2.sessionToken }));",
      ].join("\n"),
    );
    bundle = path.join(work, "credentials.mjs");
    const { build } = await import("esbuild");
    await build({ ...functionBuildOptions(root), entryPoints: [entry], outfile: bundle });
  }, 60_000);

  const run = (env: Record<string, string>) =>
    promisify(execFile)(process.execPath, ["--no-warnings", bundle], {
      env: { PATH: process.env.PATH ?? "", AWS_REGION: "us-east-1", ...env },
    }).then(({ stdout }) => JSON.parse(stdout));

  it("come from the environment, where Lambda puts the function role's", async () => {
    await expect(
      run({ AWS_ACCESS_KEY_ID: "AKIDLAMBDA", AWS_SECRET_ACCESS_KEY: "secret", AWS_SESSION_TOKEN: "token" }),
    ).resolves.toEqual({ ec2: "AKIDLAMBDA", dynamo: "AKIDLAMBDA", token: "token" });
  });

  it("come from a container credentials endpoint when the environment has none", async () => {
    const server = http.createServer((_request, response) => {
      response.setHeader("content-type", "application/json");
      response.end(
        JSON.stringify({
          AccessKeyId: "AKIDCONTAINER",
          SecretAccessKey: "secret",
          Token: "container-token",
          Expiration: new Date(Date.now() + 3_600_000).toISOString(),
        }),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = server.address() as AddressInfo;
      await expect(
        run({ AWS_CONTAINER_CREDENTIALS_FULL_URI: `http://127.0.0.1:${port}/credentials` }),
      ).resolves.toEqual({ ec2: "AKIDCONTAINER", dynamo: "AKIDCONTAINER", token: "container-token" });
    } finally {
      server.close();
    }
  });

  it("fail naming where they were looked for when there are none", async () => {
    await expect(run({ AWS_EC2_METADATA_DISABLED: "true" })).rejects.toThrow(
      /Could not load credentials from the environment or a metadata endpoint/,
    );
  });
});
