/**
 * Packs a service directory into a Kiln artifact: a gzipped tarball with `kiln.json` at its root.
 * Packing is deterministic (sorted entries, fixed times and owners), so the same directory and
 * version give the same bytes and sha256 — which is what lets the bake cache recognise them.
 */
import { lstat, readdir, readFile, readlink } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import { buffer } from "node:stream/consumers";
import { createGzip } from "node:zlib";
import { pack } from "tar-stream";
import { describeIssues, InvalidInputError } from "../core/errors.ts";
import { type Manifest, manifestFileName, manifestSchema } from "../core/manifest.ts";

const skipped = new Set([".git", ".kiln", "node_modules"]);
const fixedTime = new Date("2000-01-01T00:00:00Z");

async function listFiles(root: string, dir = root): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const files: string[] = [];
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    if (skipped.has(entry.name)) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...(await listFiles(root, path)));
    else files.push(relative(root, path).split(sep).join("/"));
  }
  return files;
}

/** Reads and validates a directory's kiln.json, with optional overrides of service and version. */
export async function readManifest(
  dir: string,
  overrides: { service?: string; version?: string } = {},
): Promise<Manifest> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(join(dir, manifestFileName), "utf8"));
  } catch (error) {
    throw new InvalidInputError(`${join(dir, manifestFileName)}`, [(error as Error).message]);
  }
  const merged = typeof raw === "object" && raw !== null ? { ...raw, ...overrides } : raw;
  const parsed = manifestSchema.safeParse(merged);
  if (!parsed.success)
    throw new InvalidInputError(join(dir, manifestFileName), describeIssues(parsed.error.issues));
  return parsed.data;
}

/** The artifact for `dir`; `overrides` rewrite the manifest's service or version inside it. */
export async function packDirectory(dir: string, overrides: { service?: string; version?: string } = {}) {
  const manifest = await readManifest(dir, overrides);
  const tar = pack();
  const gzip = createGzip({ level: 9 });
  const packed = buffer(tar.pipe(gzip));
  const common = { mtime: fixedTime, uid: 0, gid: 0, uname: "root", gname: "root" };
  tar.entry({ ...common, name: manifestFileName, mode: 0o644 }, `${JSON.stringify(manifest, null, 2)}\n`);
  for (const file of await listFiles(dir)) {
    if (file === manifestFileName) continue;
    const path = join(dir, file);
    const stat = await lstat(path);
    if (stat.isSymbolicLink()) {
      tar.entry({ ...common, name: file, type: "symlink", linkname: await readlink(path), mode: 0o777 });
    } else {
      tar.entry({ ...common, name: file, mode: stat.mode & 0o111 ? 0o755 : 0o644 }, await readFile(path));
    }
  }
  tar.finalize();
  return { manifest, body: await packed, key: `artifacts/${manifest.service}/${manifest.version}.tgz` };
}
