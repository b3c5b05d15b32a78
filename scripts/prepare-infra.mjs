#!/usr/bin/env node
// Makes .sst/platform ready for the offline infrastructure checks (tsc over sst.config.ts and
// stacks/, the Pulumi-mock synthesis in test/infra). It runs `sst install` with the flags that
// keep it offline, and does nothing when the platform of the installed SST version is already
// there, so `npm test` can call it every time.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const platform = path.join(root, ".sst/platform");
const installed = JSON.parse(
  fs.readFileSync(path.join(root, "node_modules/sst/package.json"), "utf8"),
).version;

function ready() {
  const version = path.join(platform, "version");
  return (
    fs.existsSync(version) &&
    fs.readFileSync(version, "utf8").trim() === installed &&
    fs.existsSync(path.join(platform, "config.d.ts")) &&
    fs.existsSync(path.join(platform, "src/components/index.ts")) &&
    fs.existsSync(path.join(platform, "node_modules/@pulumi/pulumi/package.json")) &&
    fs.existsSync(path.join(platform, "node_modules/@pulumi/aws/package.json"))
  );
}

if (ready()) {
  console.log(`prepare-infra: .sst/platform is ready (sst ${installed})`);
  process.exit(0);
}

console.log(
  `prepare-infra: installing the SST ${installed} platform offline into .sst/platform (about a minute)`,
);
const started = Date.now();
const result = spawnSync(path.join(root, "node_modules/.bin/sst"), ["install", "--stage", "ci"], {
  cwd: root,
  stdio: "inherit",
  env: {
    ...process.env,
    // Without these, sst downloads Bun and checks for updates: both need the network.
    SST_NO_BUN: "1",
    SST_SKIP_DEPENDENCY_CHECK: "1",
    SST_TELEMETRY_DISABLED: "1",
  },
  timeout: 10 * 60 * 1000,
});
if (result.status !== 0 || !ready()) {
  console.error(
    `prepare-infra: \`sst install\` failed (exit ${result.status ?? result.signal}); .sst/platform is incomplete`,
  );
  process.exit(1);
}
console.log(`prepare-infra: done in ${Math.round((Date.now() - started) / 1000)} s`);
