import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { Readable } from "node:stream";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  checkArtifactSize,
  defaultArtifactLimits,
  inspectArtifact,
  parseArtifactKey,
} from "../../core/artifact-inspection.ts";
import { ArtifactRejectedError } from "../../core/errors.ts";
import {
  corpusLimits,
  corpusPath,
  corpusService,
  hostileArtifacts,
  validArtifacts,
} from "../fixtures/artifacts/corpus.ts";

async function rejectionOf(file: string, limits = corpusLimits): Promise<unknown> {
  try {
    const inspected = await inspectArtifact(createReadStream(corpusPath(file)), limits);
    return { accepted: inspected };
  } catch (error) {
    return error;
  }
}

describe("inspectArtifact", () => {
  it.each(hostileArtifacts.map((artifact) => [artifact.file, artifact.description, artifact.reason]))(
    "rejects %s (%s) saying why",
    async (file, _description, reason) => {
      const outcome = await rejectionOf(file);

      expect(outcome).toBeInstanceOf(ArtifactRejectedError);
      expect((outcome as Error).message).toContain(reason);
    },
  );

  it.each(
    hostileArtifacts
      .filter((artifact) => artifact.rejectedUnderDefaultLimits)
      .map((artifact) => [artifact.file, artifact.reason]),
  )("rejects %s for the same reason under the default limits", async (file, reason) => {
    const limits = { ...defaultArtifactLimits, maxBytes: corpusLimits.maxBytes };

    const outcome = await rejectionOf(file, limits);

    expect(outcome).toBeInstanceOf(ArtifactRejectedError);
    expect((outcome as Error).message).toContain(reason);
  });

  it.each(validArtifacts.map((artifact) => [artifact.file, artifact]))(
    "accepts %s with its manifest, entry count and the sha256 of its bytes",
    async (file, artifact) => {
      const bytes = await readFile(corpusPath(file));

      const inspected = await inspectArtifact(createReadStream(corpusPath(file)), corpusLimits);

      expect(inspected.sha256).toBe(createHash("sha256").update(bytes).digest("hex"));
      expect(inspected.size).toBe(bytes.length);
      expect(inspected.entries).toBe(artifact.entries);
      expect(inspected.manifest).toMatchObject({
        service: corpusService,
        version: artifact.version,
        start: "node server.js",
        port: 8080,
      });
    },
  );

  it("fills in the manifest's defaults", async () => {
    const inspected = await inspectArtifact(createReadStream(corpusPath("valid.tgz")), corpusLimits);

    expect(inspected.manifest).toEqual({
      service: corpusService,
      version: "1.0.0-valid",
      start: "node server.js",
      port: 8080,
      healthPath: "/health",
      install: "./install.sh",
      env: { GREETING: "hello" },
    });
  });

  it("rejects an artifact that arrives in many small chunks once it passes the byte limit", async () => {
    const bytes = await readFile(corpusPath("oversize.tgz"));
    const chunks = Array.from({ length: Math.ceil(bytes.length / 1000) }, (_, index) =>
      bytes.subarray(index * 1000, (index + 1) * 1000),
    );

    const inspection = inspectArtifact(Readable.from(chunks), corpusLimits);

    await expect(inspection).rejects.toThrow(/artifact is over the 64\.0 KiB limit/);
  });
});

describe("inspectArtifact's entry streams", () => {
  // tar-stream hands out entry streams built on streamx; one destroyed with an error and no
  // listener throws the error out of the event loop, which would end a Lambda invocation.
  const streamx = createRequire(import.meta.url)("streamx") as {
    Readable: { prototype: { emit(this: NodeJS.EventEmitter, event: string, ...args: unknown[]): boolean } };
  };
  const unheard: string[] = [];

  beforeEach(() => {
    unheard.length = 0;
    const emit = streamx.Readable.prototype.emit;
    vi.spyOn(streamx.Readable.prototype, "emit").mockImplementation(function (
      this: NodeJS.EventEmitter,
      event,
      ...args
    ) {
      if (event === "error" && this.listenerCount("error") === 0) {
        unheard.push((args[0] as Error).message);
        return false;
      }
      return emit.call(this, event, ...args);
    });
  });

  afterEach(() => {
    vi.restoreAllMocks();
  });

  it.each(["path-traversal.tgz", "absolute-path.tgz", "pax-path-traversal.tgz"])(
    "rejects %s without leaving an entry stream erroring with nobody listening",
    async (file) => {
      const bytes = await readFile(corpusPath(file));

      const outcome = await inspectArtifact(Readable.from([bytes]), corpusLimits).catch(
        (error: unknown) => error,
      );
      await new Promise((resolve) => setImmediate(resolve));

      expect(outcome).toBeInstanceOf(ArtifactRejectedError);
      expect(unheard).toEqual([]);
    },
  );
});

describe("artifact corpus", () => {
  it("lists every .tgz file in its folder, and holds a file for every entry it lists", async () => {
    const onDisk = (await readdir(corpusPath("."))).filter((name) => name.endsWith(".tgz")).sort();

    const listed = [...hostileArtifacts, ...validArtifacts].map((artifact) => artifact.file).sort();

    expect(onDisk).toEqual(listed);
  });

  it("names upload keys that parse as the corpus service and the entry's version", () => {
    const keys = [...hostileArtifacts, ...validArtifacts].map((artifact) => [
      parseArtifactKey(artifact.key),
      artifact.version,
    ]);

    for (const [parsed, version] of keys) expect(parsed).toEqual({ service: corpusService, version });
  });
});

describe("checkArtifactSize", () => {
  it("rejects an empty object", () => {
    expect(() => checkArtifactSize(0, corpusLimits)).toThrow(new ArtifactRejectedError("artifact is empty"));
  });

  it("rejects an object over the byte limit before reading it, naming both sizes", () => {
    expect(() => checkArtifactSize(300 * 1024 * 1024)).toThrow(
      "artifact is 300.0 MiB, over the 256.0 MiB limit",
    );
  });

  it("accepts an object at the byte limit", () => {
    expect(() => checkArtifactSize(corpusLimits.maxBytes, corpusLimits)).not.toThrow();
  });
});

describe("parseArtifactKey", () => {
  it.each([
    ["artifacts/hello-service/1.2.3.tgz", { service: "hello-service", version: "1.2.3" }],
    ["artifacts/hello-service/1.2.3.tar.gz", undefined],
    ["artifacts/hello-service/nested/1.2.3.tgz", undefined],
    ["uploads/hello-service/1.2.3.tgz", undefined],
    ["artifacts//1.2.3.tgz", undefined],
  ])("reads %s as %o", (key, expected) => {
    expect(parseArtifactKey(key)).toEqual(expected);
  });
});
