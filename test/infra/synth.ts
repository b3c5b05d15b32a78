/**
 * Synthesizes a Kiln stage offline: bundles test/infra/harness/synth-stage.mjs with Kiln's
 * sst.config.ts and stacks, runs it in a child process (Pulumi must be loaded exactly once per
 * process, with its mocks installed before any component loads) and returns what it recorded.
 */
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { build, type Plugin } from "esbuild";

export interface RecordedResource {
  type: string;
  name: string;
  // biome-ignore lint/suspicious/noExplicitAny: inputs take each provider type's shape; tests read them by path
  inputs: Record<string, any>;
  read: boolean;
  parent?: string;
  retainOnDelete?: boolean;
  protect?: boolean;
}

export interface Synthesis {
  stage: string;
  dev: boolean;
  app: { name: string; removal?: string; protect?: boolean; home: string };
  outputs: Record<string, unknown> | null;
  resources: RecordedResource[];
  rpcMethods: string[];
  /** What the stage asked the SST CLI to build: one entry per function. */
  builds: Array<{
    functionID: string;
    handler: string;
    runtime: string;
    /** The folder a function deploys as it is (SST's `bundle`), and the files it held. */
    bundle?: string;
    files?: Array<{ path: string; bytes: number; sha256: string }>;
  }>;
  error: string | null;
}

const root = path.resolve(import.meta.dirname, "../..");
const platform = path.join(root, ".sst/platform");

/** The deploy-time settings every synthesis starts from; a test adds or overrides its own. */
export const baseSettings: Record<string, string> = {
  KILN_EMAIL_FROM: "kiln@example.com",
  SST_SECRET_SlackWebhookUrl: "https://hooks.slack.com/services/T000/B000/mock",
};

// Kiln's code and its packages are bundled as SST bundles sst.config.ts; the platform's
// packages stay external so they resolve from .sst/platform/node_modules, one copy of each.
const platformPackagesExternal: Plugin = {
  name: "platform-packages-external",
  setup(builder) {
    builder.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.path.startsWith("node:")) return { path: args.path, external: true };
      if (args.importer.startsWith(platform) || args.path.startsWith("@pulumi/"))
        return { path: args.path, external: true };
      return undefined;
    });
  },
};

let bundled: Promise<string> | undefined;

function bundleHarness(): Promise<string> {
  bundled ??= (async () => {
    if (!fs.existsSync(path.join(platform, "src/components/index.ts"))) {
      throw new Error(
        ".sst/platform is missing: run `node scripts/prepare-infra.mjs` (an offline `sst install`) first",
      );
    }
    // Built under a name of its own, then renamed: test processes running at once never read a
    // half-written bundle, and only one bundle stays behind.
    const outfile = path.join(platform, ".test-out", "synth-stage.mjs");
    const building = path.join(platform, ".test-out", `synth-stage-${process.pid}.mjs`);
    await build({
      entryPoints: [path.join(root, "test/infra/harness/synth-stage.mjs")],
      outfile: building,
      bundle: true,
      platform: "node",
      format: "esm",
      target: "node20",
      plugins: [platformPackagesExternal],
      banner: {
        js: "import { createRequire as __kilnCreateRequire } from 'node:module'; const require = __kilnCreateRequire(import.meta.url);",
      },
      logLevel: "error",
    });
    fs.renameSync(building, outfile);
    return outfile;
  })();
  return bundled;
}

/** Runs `sst.config.ts` for a stage under Pulumi mocks and returns every resource it registered. */
export async function synthesize(options: {
  stage: string;
  dev?: boolean;
  /** Deploy-time variables on top of baseSettings; `undefined` removes one. */
  env?: Record<string, string | undefined>;
}): Promise<Synthesis> {
  const harness = await bundleHarness();
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "kiln-synth-")), "synthesis.json");
  const env: Record<string, string | undefined> = { ...process.env };
  for (const key of Object.keys(env))
    if (key.startsWith("KILN_") || key.startsWith("SST_SECRET_")) delete env[key];
  Object.assign(env, baseSettings, options.env, {
    KILN_SYNTH_STAGE: options.stage,
    KILN_SYNTH_DEV: options.dev ? "1" : "0",
    KILN_SYNTH_OUT: out,
    SST_TELEMETRY_DISABLED: "1",
  });
  for (const [key, value] of Object.entries(env)) if (value === undefined) delete env[key];
  await promisify(execFile)(process.execPath, [harness], { cwd: root, env, maxBuffer: 64 * 1024 * 1024 });
  const synthesis = unwrapSecrets(JSON.parse(fs.readFileSync(out, "utf8"))) as Synthesis;
  fs.rmSync(path.dirname(out), { recursive: true, force: true });
  if (synthesis.error) throw new Error(`synthesizing stage ${options.stage} failed:\n${synthesis.error}`);
  return synthesis;
}

// Pulumi marks secret values with this signature key; the tests read the values themselves.
const secretSignature = "4dabf18193072939515e22adb298388d";

function unwrapSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(unwrapSecrets);
  if (value && typeof value === "object") {
    const record = value as Record<string, unknown>;
    if (secretSignature in record) return unwrapSecrets(record.value);
    return Object.fromEntries(Object.entries(record).map(([key, inner]) => [key, unwrapSecrets(inner)]));
  }
  return value;
}

/** The resources of one type the stage creates (lookups of existing resources left out). */
export function created(synthesis: Synthesis, type: string): RecordedResource[] {
  return synthesis.resources.filter((r) => r.type === type && !r.read);
}

/** The single item of a list, or an error naming what was expected. */
export function only<T>(items: T[], what: string): T {
  const [first] = items;
  if (items.length !== 1 || first === undefined)
    throw new Error(`expected one ${what}, found ${items.length}`);
  return first;
}

/** The one resource of a type with a given logical name. */
export function resource(synthesis: Synthesis, type: string, name: string): RecordedResource {
  return only(
    synthesis.resources.filter((r) => r.type === type && r.name === name && !r.read),
    `${type} named ${name}`,
  );
}
