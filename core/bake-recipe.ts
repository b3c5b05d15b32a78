/**
 * The bake recipe: the user data a builder runs to turn a base image into a service image.
 * It is plain bash so the same script works on a real VM and in a local-cloud instance, where
 * it runs inside the instance's own root (`KILN_INSTANCE_ROOT`; empty on a real VM).
 */
import { createHash } from "node:crypto";
import type { Manifest } from "./manifest.ts";

/** Bump when the script's behaviour changes: a new recipe must not reuse images of the old one. */
export const recipeVersion = "kiln-bake-1";

/** The console line prefix that carries the builder's verdict back to Kiln. */
export const bakeVerdictPrefix = "KILN-BAKE:";

export interface BakeInputs {
  deploymentId: string;
  manifest: Manifest;
  artifactUrl: string;
  artifactSha256: string;
}

/** Quotes a value for bash: single quotes, with embedded quotes closed and escaped. */
function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/** Quotes a value for a systemd Environment= assignment; line breaks become C escapes, one line each. */
function systemdQuote(value: string): string {
  const escaped = value
    .replaceAll("\\", "\\\\")
    .replaceAll('"', '\\"')
    .replaceAll("%", "%%")
    .replaceAll("\n", "\\n")
    .replaceAll("\r", "\\r");
  return `"${escaped}"`;
}

/** Hash of everything in the recipe that shapes the image besides the artifact and base image. */
export function recipeHash(manifest: Manifest): string {
  const shape = {
    recipeVersion,
    start: manifest.start,
    install: manifest.install ?? null,
    port: manifest.port,
    env: manifest.env,
  };
  return createHash("sha256").update(JSON.stringify(shape)).digest("hex");
}

/** Same artifact, base image and recipe ⇒ same image: the key the bake cache looks up. */
export function bakeCacheKey(artifactSha256: string, baseImageId: string, manifest: Manifest): string {
  return createHash("sha256")
    .update(`${artifactSha256}\n${baseImageId}\n${recipeHash(manifest)}`)
    .digest("hex")
    .slice(0, 40);
}

/** The builder's user data: fetch, verify, install, register the service, report, shut down. */
export function bakeUserData({ deploymentId, manifest, artifactUrl, artifactSha256 }: BakeInputs): string {
  const service = manifest.service;
  const unit = `kiln-${service}.service`;
  const environment = Object.entries({ ...manifest.env, PORT: String(manifest.port) })
    .map(([name, value]) => `Environment=${name}=${systemdQuote(value)}`)
    .join("\n");
  return `#!/bin/bash
# Kiln bake of ${service} ${manifest.version} for deployment ${deploymentId} (${recipeVersion})
set -euo pipefail
ROOT="\${KILN_INSTANCE_ROOT:-}"
APP="$ROOT/opt/kiln/${service}"
WORK="$ROOT/var/lib/kiln"

# The verdict goes to the console, which Kiln reads with GetConsoleOutput once the builder stops.
report() { echo "${bakeVerdictPrefix} $*"; if [ -z "$ROOT" ] && [ -w /dev/console ]; then echo "${bakeVerdictPrefix} $*" > /dev/console; fi; }
fail() { trap - ERR; report "FAILED $1"; shutdown -h now || true; exit 1; }
trap 'fail "step at line $LINENO exited with status $?"' ERR

mkdir -p "$WORK" "$APP" "$ROOT/etc/systemd/system/multi-user.target.wants"

curl -fsS --retry 5 --retry-delay 2 --max-time 600 -o "$WORK/artifact.tgz" ${shellQuote(artifactUrl)} \\
  || fail "could not download the artifact"
echo ${shellQuote(artifactSha256)}"  $WORK/artifact.tgz" | sha256sum --check --status \\
  || fail "artifact sha256 does not match ${artifactSha256}"
tar -xzf "$WORK/artifact.tgz" -C "$APP" --no-same-owner || fail "could not unpack the artifact"
rm -f "$WORK/artifact.tgz"
${manifest.install ? `(cd "$APP" && ${manifest.install}) || fail ${shellQuote(`install hook failed: ${manifest.install}`)}` : "# no install hook"}

cat > "$APP/.kiln-start" <<'KILN_START'
#!/bin/sh
cd "$(dirname "$0")"
exec ${manifest.start}
KILN_START
chmod 755 "$APP/.kiln-start"

cat > "$ROOT/etc/systemd/system/${unit}" <<'KILN_UNIT'
[Unit]
Description=${service} ${manifest.version} (deployed by Kiln)
After=network-online.target

[Service]
WorkingDirectory=/opt/kiln/${service}
ExecStart=/opt/kiln/${service}/.kiln-start
${environment}
Restart=always

[Install]
WantedBy=multi-user.target
KILN_UNIT
ln -sf ../${unit} "$ROOT/etc/systemd/system/multi-user.target.wants/${unit}"

report "OK ${service} ${manifest.version}"
shutdown -h now
`;
}

export type BakeVerdict = { ok: true } | { ok: false; reason: string } | undefined;

/** The last verdict line in a builder's console output, if it has reported yet. */
export function readBakeVerdict(consoleOutput: string): BakeVerdict {
  const lines = consoleOutput.split(/\r?\n/).filter((line) => line.startsWith(bakeVerdictPrefix));
  const last = lines.at(-1)?.slice(bakeVerdictPrefix.length).trim();
  if (last === undefined) return undefined;
  if (last.startsWith("OK")) return { ok: true };
  return { ok: false, reason: last.replace(/^FAILED\s*/, "") || "the builder reported a failure" };
}
