/**
 * Kiln's function bundles. Kiln builds them itself, with its own esbuild plugins, and SST deploys
 * them as they are (its `bundle` option), so the benchmark (figure 7) measures the very bundles
 * that are deployed.
 *
 * One bundle per entry of `kilnFunctions`, with the options SST v3 builds Node functions with
 * (sst/sst pkg/runtime/node/build.go: ESM, minified, names kept, `mainFields` module then main,
 * its banner giving CommonJS dependencies `require`, `__filename` and `__dirname`), for Node 22,
 * nothing external but Node's built-ins: the SDK the Lambda runtime ships is not relied on.
 *
 * Each function's folder holds one file, at its entry's path: `functions/check-builder.ts` is
 * built to `<outdir>/checkBuilder/functions/check-builder.mjs`, whose handler is
 * `functions/check-builder.handler`. SST zips the folder.
 *
 * What keeps the bundles small: Kiln's own files declare no import side effects (package.json
 * `sideEffects`) and `core/aws/clients.ts` creates its clients in `@__PURE__` calls, so a
 * function carries only the adapters and clients it calls; Kiln imports zod as a namespace
 * (`import * as z`), which esbuild tree-shakes (`import { z }` it bundles whole, every locale
 * included: about 440 KiB against 100); and the plugins below, each of which keeps out code a
 * function never runs: `constantSchemaKeys` (the SDK's unused shapes) and `lambdaCredentials`
 * (credential providers that never answer on Lambda). docs/benchmarks.md (figure 7) says what
 * each saves.
 */
import { readFile, rm, stat } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import type { BuildOptions, Message, Metafile, Plugin } from "esbuild";
import { type KilnFunctionName, kilnFunctionNames, kilnFunctions } from "../workflows/functions.ts";

/** SST v3's banner for ESM Node functions: CommonJS code bundled into ESM finds what it expects. */
export const sstNodeBanner = [
  "import { createRequire as topLevelCreateRequire } from 'module';",
  "const require = topLevelCreateRequire(import.meta.url);",
  'import { fileURLToPath as topLevelFileUrlToPath, URL as topLevelURL } from "url"',
  "const __filename = topLevelFileUrlToPath(import.meta.url)",
  'const __dirname = topLevelFileUrlToPath(new topLevelURL(".", import.meta.url))',
].join("\n");

/** The AWS SDK's generated serialization schemas, one or more modules per client. */
export const sdkSchemaModules =
  /[\\/]@aws-sdk[\\/]client-[^\\/]+[\\/]dist-es[\\/]schemas[\\/]schemas_\d+\.js$/;

/**
 * Writes the computed keys of an SDK schema module as the string literals they are.
 *
 * The module describes every shape of its service as a top-level array, plain data a bundler
 * drops when unused, except that member traits are objects with computed keys, `{ [_xN]: _EBx }`
 * after `const _xN = "xmlName"`: esbuild counts a computed key as a possible side effect (it
 * could convert an object to a string), so it kept every shape — EC2's module alone is 550 KiB
 * minified. Only keys naming a `const _name = "…"` of the module itself are rewritten.
 */
export function inlineConstantKeys(source: string): string {
  const constants = new Map<string, string>();
  for (const [, name, literal] of source.matchAll(/^const (_\w+) = ("[^"\\\n]*");$/gm))
    if (name !== undefined && literal !== undefined) constants.set(name, literal);
  return source.replace(/([{,]\s*)\[(_\w+)\]:/g, (key: string, before: string, name: string) => {
    const literal = constants.get(name);
    return literal === undefined ? key : `${before}${literal}:`;
  });
}

/** The esbuild plugin applying `inlineConstantKeys` to the SDK's schema modules. */
export const constantSchemaKeys: Plugin = {
  name: "kiln-constant-schema-keys",
  setup(build) {
    build.onLoad({ filter: sdkSchemaModules }, async (args) => ({
      contents: inlineConstantKeys(await readFile(args.path, "utf8")),
      loader: "js",
    }));
  },
};

/**
 * The credential chain a Kiln function needs on Lambda, in place of the SDK's default one.
 *
 * Every client's runtime configuration imports `defaultProvider` from
 * @aws-sdk/credential-provider-node: environment variables, then SSO, shared config files,
 * `credential_process`, a web identity token file, then the container or instance metadata
 * endpoints. Lambda hands a function its role's credentials in environment variables, so on
 * Lambda the first link always answers; the next four never run, yet their code and the STS,
 * SSO and sign-in clients they create are about 120 KiB of every bundle. This chain keeps the
 * SDK's own first and last links (`fromEnv`, `remoteProvider`) and its memoization, resolved
 * from the very package each client would have used. Only bundles get it: Kiln's code run
 * from source (the local cloud, tests) keeps the SDK's default chain.
 */
const lambdaCredentialChain = `
import { fromEnv } from "@aws-sdk/credential-provider-env";
import { CredentialsProviderError } from "@smithy/core/config";
import { credentialsTreatedAsExpired } from "./defaultProvider";
import { remoteProvider } from "./remoteProvider";
import { memoizeChain } from "./runtime/memoize-chain";
export { credentialsTreatedAsExpired, credentialsWillNeedRefresh } from "./defaultProvider";
export const defaultProvider = (init = {}) => memoizeChain([
  async () => fromEnv(init)(),
  async () => (await remoteProvider(init))(),
  async () => {
    throw new CredentialsProviderError("Could not load credentials from the environment or a metadata endpoint", {
      tryNextLink: false,
      logger: init.logger,
    });
  },
], credentialsTreatedAsExpired);
`;

/** The esbuild plugin giving the SDK's clients `lambdaCredentialChain`. */
export const lambdaCredentials: Plugin = {
  name: "kiln-lambda-credentials",
  setup(build) {
    build.onResolve({ filter: /^@aws-sdk\/credential-provider-node$/ }, async (args) => {
      if (args.pluginData === lambdaCredentialChain) return undefined;
      const sdk = await build.resolve(args.path, {
        kind: args.kind,
        importer: args.importer,
        resolveDir: args.resolveDir,
        pluginData: lambdaCredentialChain,
      });
      if (sdk.errors.length > 0) return { errors: sdk.errors };
      return { path: sdk.path, namespace: "kiln-lambda-credentials" };
    });
    build.onLoad({ filter: /.*/, namespace: "kiln-lambda-credentials" }, (args) => ({
      contents: lambdaCredentialChain,
      loader: "js",
      // The SDK's own files next to its index: its fromEnv, remoteProvider and memoization.
      resolveDir: path.dirname(args.path),
    }));
  },
};

/** One function's bundle, as SST deploys it. */
export interface FunctionBundle {
  name: KilnFunctionName;
  /** Its entry, relative to the repository: `functions/check-builder.ts`. */
  entry: string;
  /** The folder SST zips: the bundle and nothing else. */
  dir: string;
  /** The Lambda handler inside that folder: `functions/check-builder.handler`. */
  handler: string;
  /** The bundle itself. */
  file: string;
  bytes: number;
  /** What the bundle is made of: bytes in the output per input file (relative to the repository). */
  inputs: Record<string, number>;
}

export interface FunctionBundles {
  bundles: Record<KilnFunctionName, FunctionBundle>;
  /** esbuild's warnings (an import it dropped as free of side effects, for one). */
  warnings: string[];
}

export interface BuildFunctionBundlesOptions {
  /** The repository: entries and node_modules are found from here. */
  root: string;
  /** Where the bundles go, one folder per function; each function's folder is replaced. */
  outdir: string;
  /** Only these functions; all of `kilnFunctions` by default. */
  names?: readonly KilnFunctionName[];
}

/** The file a function's entry is built to, relative to its folder: `functions/x.mjs`. */
const bundledPath = (entry: string) => entry.replace(/\.ts$/, ".mjs");

/** The esbuild options every Kiln function is built with (`outdir` and entries aside). */
export function functionBuildOptions(root: string): BuildOptions {
  return {
    absWorkingDir: root,
    bundle: true,
    minify: true,
    keepNames: true,
    platform: "node",
    target: "node22",
    format: "esm",
    mainFields: ["module", "main"],
    banner: { js: sstNodeBanner },
    outExtension: { ".js": ".mjs" },
    metafile: true,
    logLevel: "silent",
    plugins: [constantSchemaKeys, lambdaCredentials],
  };
}

/**
 * The repository's own esbuild. SST bundles sst.config.ts with esbuild left external, so a plain
 * import would resolve from SST's platform folder, to another esbuild version.
 */
function repositoryEsbuild(root: string): typeof import("esbuild") {
  const requireFromRoot = createRequire(path.join(root, "package.json"));
  return requireFromRoot("esbuild") as typeof import("esbuild");
}

const messageText = (message: Message) =>
  message.location ? `${message.location.file}:${message.location.line}: ${message.text}` : message.text;

/**
 * Builds the functions' bundles in one esbuild run (each still its own bundle: no code
 * splitting). Rejects with esbuild's errors when any entry fails to build.
 */
export async function buildFunctionBundles(options: BuildFunctionBundlesOptions): Promise<FunctionBundles> {
  const { root, outdir } = options;
  const names = options.names ?? kilnFunctionNames;
  const { build } = repositoryEsbuild(root);
  await Promise.all(names.map((name) => rm(path.join(outdir, name), { recursive: true, force: true })));
  const result = await build({
    ...functionBuildOptions(root),
    entryPoints: names.map((name) => ({
      in: kilnFunctions[name],
      out: path.posix.join(name, kilnFunctions[name].replace(/\.ts$/, "")),
    })),
    outdir,
  });
  const metafile: Metafile = result.metafile ?? { inputs: {}, outputs: {} };
  const bundles = {} as Record<KilnFunctionName, FunctionBundle>;
  for (const name of names) {
    const entry = kilnFunctions[name];
    const dir = path.join(outdir, name);
    const file = path.join(dir, bundledPath(entry));
    const output = Object.entries(metafile.outputs).find(([out]) => path.resolve(root, out) === file)?.[1];
    if (output === undefined) throw new Error(`esbuild wrote no bundle for ${name} (${entry})`);
    bundles[name] = {
      name,
      entry,
      dir,
      handler: entry.replace(/\.ts$/, ".handler"),
      file,
      bytes: (await stat(file)).size,
      inputs: Object.fromEntries(
        Object.entries(output.inputs).map(([input, { bytesInOutput }]) => [input, bytesInOutput]),
      ),
    };
  }
  return { bundles, warnings: result.warnings.map(messageText) };
}
