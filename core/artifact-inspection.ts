/**
 * Checks an artifact before anything is launched for it: a gzipped tarball whose entries all
 * stay inside its root, holding a valid `kiln.json`. Reads the stream once, hashing as it goes.
 */
import { createHash } from "node:crypto";
import { posix } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { extract, type Header as Headers } from "tar-stream";
import { ArtifactRejectedError, describeIssues } from "./errors.ts";
import { type Manifest, manifestFileName, manifestSchema } from "./manifest.ts";

export interface ArtifactLimits {
  /** Largest compressed artifact accepted. */
  maxBytes: number;
  /** Largest total of uncompressed entry sizes (guards against decompression bombs). */
  maxUnpackedBytes: number;
  maxEntries: number;
}

export const defaultArtifactLimits: ArtifactLimits = {
  maxBytes: 256 * 1024 * 1024,
  maxUnpackedBytes: 1024 * 1024 * 1024,
  maxEntries: 50_000,
};

export interface InspectedArtifact {
  sha256: string;
  size: number;
  manifest: Manifest;
  entries: number;
}

const maxManifestBytes = 64 * 1024;
const allowedEntryTypes = new Set<Headers["type"]>(["file", "directory", "symlink", "link"]);

function mib(bytes: number): string {
  return bytes < 1024 * 1024 ? `${(bytes / 1024).toFixed(1)} KiB` : `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** Rejects the size before a byte is read, when the store knows it. */
export function checkArtifactSize(size: number, limits: ArtifactLimits = defaultArtifactLimits): void {
  if (size > limits.maxBytes) {
    throw new ArtifactRejectedError(`artifact is ${mib(size)}, over the ${mib(limits.maxBytes)} limit`);
  }
  if (size === 0) throw new ArtifactRejectedError("artifact is empty");
}

/** The entry's path inside the artifact root, or a rejection naming the hostile entry. */
function checkEntryPath(name: string): string {
  if (name.startsWith("/")) throw new ArtifactRejectedError(`entry "${name}" has an absolute path`);
  if (name.split("/").includes(".."))
    throw new ArtifactRejectedError(`entry "${name}" climbs out of the artifact with ".."`);
  return posix.normalize(name).replace(/\/$/, "");
}

const outside = (path: string) => path === ".." || path.startsWith("../");

/**
 * Where a path really leads once extracted: each folder on the way that is a symbolic link
 * seen earlier in the archive is replaced by what it points to (a link inside a link's folder
 * is how archives smuggle paths out of their root).
 */
function resolveThroughLinks(path: string, links: ReadonlyMap<string, string>): string {
  let resolved = ".";
  for (const part of path.split("/")) {
    const next = posix.normalize(posix.join(resolved, part));
    resolved = links.get(next) ?? next;
  }
  return resolved;
}

/** Checks a link entry's target and returns where it points, relative to the artifact root. */
function checkLinkTarget(entryPath: string, header: Headers, links: ReadonlyMap<string, string>): string {
  const target = header.linkname ?? "";
  const kind = header.type === "symlink" ? "symbolic link" : "hard link";
  if (target.startsWith("/")) {
    throw new ArtifactRejectedError(`${kind} "${entryPath}" points to the absolute path "${target}"`);
  }
  // Symlinks resolve from their own folder (through links before them); hard links from the root.
  const base = header.type === "symlink" ? resolveThroughLinks(posix.dirname(entryPath), links) : ".";
  const resolved = posix.normalize(posix.join(base, target));
  if (outside(resolved)) {
    throw new ArtifactRejectedError(`${kind} "${entryPath}" points outside the artifact ("${target}")`);
  }
  return resolved;
}

function parseManifest(text: string): Manifest {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ArtifactRejectedError(`${manifestFileName} is not valid JSON (${(error as Error).message})`);
  }
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success) {
    throw new ArtifactRejectedError(
      `${manifestFileName} is invalid: ${describeIssues(parsed.error.issues).join("; ")}`,
    );
  }
  return parsed.data;
}

/** Reads a whole artifact stream and returns its digest and manifest, or throws ArtifactRejectedError. */
export async function inspectArtifact(
  body: Readable,
  limits: ArtifactLimits = defaultArtifactLimits,
): Promise<InspectedArtifact> {
  const hash = createHash("sha256");
  let size = 0;
  let unpacked = 0;
  let entries = 0;
  let manifestText: string | undefined;
  const links = new Map<string, string>();

  const tar = extract();
  tar.on("entry", (header, stream, next) => {
    // A rejection destroys the archive, which destroys this entry with the same error: that
    // error is reported once, through the pipeline, not again from the entry.
    stream.on("error", () => {});
    entries += 1;
    const rejection = (() => {
      try {
        if (entries > limits.maxEntries)
          throw new ArtifactRejectedError(`artifact has more than ${limits.maxEntries} entries`);
        if (!allowedEntryTypes.has(header.type)) {
          throw new ArtifactRejectedError(
            `entry "${header.name}" is a ${header.type}, which artifacts may not hold`,
          );
        }
        const path = checkEntryPath(header.name);
        if (outside(resolveThroughLinks(path, links))) {
          throw new ArtifactRejectedError(
            `entry "${path}" lies outside the artifact once its folders' links are followed`,
          );
        }
        if (header.type === "symlink") links.set(path, checkLinkTarget(path, header, links));
        if (header.type === "link") checkLinkTarget(path, header, links);
        return { path };
      } catch (error) {
        return { error };
      }
    })();
    if ("error" in rejection) {
      stream.resume();
      tar.destroy(rejection.error as Error);
      return;
    }
    if (rejection.path !== manifestFileName || header.type !== "file") {
      stream.on("end", next);
      stream.resume();
      return;
    }
    if ((header.size ?? 0) > maxManifestBytes) {
      stream.resume();
      tar.destroy(new ArtifactRejectedError(`${manifestFileName} is larger than 64 KiB`));
      return;
    }
    const chunks: Buffer[] = [];
    stream.on("data", (chunk: unknown) => {
      if (Buffer.isBuffer(chunk)) chunks.push(chunk);
    });
    stream.on("end", () => {
      manifestText = Buffer.concat(chunks).toString("utf8");
      next();
    });
  });

  const gunzip = createGunzip();
  // Count what gunzip produces, not what headers claim: padding and junk unpack too.
  gunzip.on("data", (chunk: Buffer) => {
    unpacked += chunk.length;
    if (unpacked > limits.maxUnpackedBytes) {
      gunzip.destroy(
        new ArtifactRejectedError(`artifact unpacks to more than ${mib(limits.maxUnpackedBytes)}`),
      );
    }
  });
  body.on("data", (chunk: Buffer) => {
    size += chunk.length;
    hash.update(chunk);
    if (size > limits.maxBytes)
      body.destroy(new ArtifactRejectedError(`artifact is over the ${mib(limits.maxBytes)} limit`));
  });

  try {
    await pipeline(body, gunzip, tar);
  } catch (error) {
    if (error instanceof ArtifactRejectedError) throw error;
    const code = (error as NodeJS.ErrnoException).code ?? "";
    if (code.startsWith("Z_"))
      throw new ArtifactRejectedError("artifact is not a gzip file (or the gzip stream is corrupt)");
    throw new ArtifactRejectedError(`artifact is not a readable tar archive: ${(error as Error).message}`);
  }
  if (entries === 0) throw new ArtifactRejectedError("artifact holds no files");
  if (manifestText === undefined)
    throw new ArtifactRejectedError(`artifact has no ${manifestFileName} at its root`);
  return { sha256: hash.digest("hex"), size, manifest: parseManifest(manifestText), entries };
}

/** The service and version an artifact key names: `artifacts/<service>/<version>.tgz`. */
export function parseArtifactKey(key: string): { service: string; version: string } | undefined {
  const match = /^artifacts\/([^/]+)\/([^/]+)\.tgz$/.exec(key);
  if (!match?.[1] || !match[2]) return undefined;
  return { service: match[1], version: match[2] };
}
