import { execFile } from "node:child_process";
import { chmod, lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { bakeCacheKey, bakeUserData, readBakeVerdict, recipeHash } from "../../core/bake-recipe.ts";
import type { Manifest } from "../../core/manifest.ts";
import { aManifest, packArtifact, sha256Of } from "../fakes/test-data.ts";

interface BakeRun {
  code: number;
  stdout: string;
  root: string;
  shutdowns: string;
}

describe("bakeUserData", () => {
  let server: Server;
  let baseUrl: string;
  const served = new Map<string, Buffer>();
  let work: string;

  beforeAll(async () => {
    server = createServer((request, response) => {
      const body = served.get(request.url ?? "");
      response.writeHead(body ? 200 : 404).end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  beforeEach(async () => {
    work = await mkdtemp(join(tmpdir(), "kiln-bake-"));
  });

  afterEach(async () => {
    await rm(work, { recursive: true, force: true });
  });

  /** Serves the artifact, then runs the user data with bash inside a fresh instance root. */
  async function bake(
    manifest: Manifest,
    files: Record<string, string>,
    options: { sha256?: string; path?: string } = {},
  ): Promise<BakeRun> {
    const artifact = await packArtifact(manifest, files);
    const path = options.path ?? `/artifacts/${manifest.service}/${manifest.version}.tgz`;
    served.set(`/artifacts/${manifest.service}/${manifest.version}.tgz`, artifact);
    const root = join(work, "root");
    const bin = join(work, "bin");
    await mkdir(root, { recursive: true });
    await mkdir(bin, { recursive: true });
    // A shutdown that records it was asked instead of powering anything off.
    await writeFile(join(bin, "shutdown"), `#!/bin/sh\necho "$@" >> "${join(work, "shutdowns")}"\n`);
    await chmod(join(bin, "shutdown"), 0o755);
    const script = join(work, "user-data.sh");
    await writeFile(
      script,
      bakeUserData({
        deploymentId: "d-0123456789abcdefghijklmn",
        manifest,
        artifactUrl: `${baseUrl}${path}`,
        artifactSha256: options.sha256 ?? sha256Of(artifact),
      }),
    );
    const { code, stdout } = await new Promise<{ code: number; stdout: string }>((resolve) => {
      execFile(
        "bash",
        [script],
        { env: { PATH: `${bin}:${process.env.PATH}`, KILN_INSTANCE_ROOT: root }, timeout: 60_000 },
        (error, out) =>
          resolve({ code: typeof error?.code === "number" ? error.code : error ? -1 : 0, stdout: out }),
      );
    });
    const shutdowns = await readFile(join(work, "shutdowns"), "utf8").catch(() => "");
    return { code, stdout, root, shutdowns };
  }

  const manifest = aManifest({
    install: "./install.sh",
    env: { GREETING: 'say "hi" 100% \\o/', EMPTY: "" },
  });
  const files = {
    "server.js": "// hello\n",
    "install.sh": '#!/bin/sh\necho installed > "$(pwd)/installed.txt"\n',
  };

  it("unpacks the artifact, runs its install hook, registers the service and reports OK before shutting down", async () => {
    const run = await bake(manifest, files);

    expect(run.code).toBe(0);
    expect(run.stdout).toContain("KILN-BAKE: OK hello-service 1.2.3");
    expect(readBakeVerdict(run.stdout)).toEqual({ ok: true });
    const app = join(run.root, "opt/kiln/hello-service");
    expect((await readdir(app)).sort()).toEqual([
      ".kiln-start",
      "install.sh",
      "installed.txt",
      "kiln.json",
      "server.js",
    ]);
    expect(await readdir(join(run.root, "var/lib/kiln"))).toEqual([]);
    expect(run.shutdowns).toBe("-h now\n");
  });

  it("writes a start script that runs the manifest's start command from the service's folder", async () => {
    const run = await bake(manifest, files);

    const start = join(run.root, "opt/kiln/hello-service/.kiln-start");
    expect(await readFile(start, "utf8")).toBe('#!/bin/sh\ncd "$(dirname "$0")"\nexec node server.js\n');
    expect((await lstat(start)).mode & 0o777).toBe(0o755);
  });

  it("writes a systemd unit with the service's environment quoted for systemd, enabled at boot", async () => {
    const run = await bake(manifest, files);

    const unit = await readFile(join(run.root, "etc/systemd/system/kiln-hello-service.service"), "utf8");
    expect(unit).toContain("ExecStart=/opt/kiln/hello-service/.kiln-start\n");
    expect(unit).toContain("WorkingDirectory=/opt/kiln/hello-service\n");
    expect(unit).toContain('Environment=GREETING="say \\"hi\\" 100%% \\\\o/"\n');
    expect(unit).toContain('Environment=EMPTY=""\n');
    expect(unit).toContain('Environment=PORT="8080"\n');
    const wants = join(run.root, "etc/systemd/system/multi-user.target.wants/kiln-hello-service.service");
    expect(await readlink(wants)).toBe("../kiln-hello-service.service");
  });

  it("reports FAILED and installs nothing when the artifact's sha256 does not match", async () => {
    const wrong = "0".repeat(64);

    const run = await bake(manifest, files, { sha256: wrong });

    expect(run.code).not.toBe(0);
    expect(run.stdout).toContain(`KILN-BAKE: FAILED artifact sha256 does not match ${wrong}`);
    expect(readBakeVerdict(run.stdout)).toEqual({
      ok: false,
      reason: `artifact sha256 does not match ${wrong}`,
    });
    expect(await readdir(join(run.root, "opt/kiln/hello-service"))).toEqual([]);
    expect(run.shutdowns).toBe("-h now\n");
  });

  it("reports FAILED when the artifact cannot be downloaded", async () => {
    const run = await bake(manifest, files, { path: "/artifacts/missing.tgz" });

    expect(readBakeVerdict(run.stdout)).toEqual({ ok: false, reason: "could not download the artifact" });
    expect(run.shutdowns).toBe("-h now\n");
  });

  it("reports FAILED naming the install hook when it fails", async () => {
    const run = await bake(manifest, { ...files, "install.sh": "#!/bin/sh\nexit 3\n" });

    expect(readBakeVerdict(run.stdout)).toEqual({ ok: false, reason: "install hook failed: ./install.sh" });
    expect(run.stdout).not.toContain("KILN-BAKE: OK");
  });

  it("keeps a multi-line env value inside its own Environment= line", async () => {
    const run = await bake(aManifest({ env: { CERT: "-----BEGIN-----\nMIIB\n-----END-----" } }), files);

    const unit = await readFile(join(run.root, "etc/systemd/system/kiln-hello-service.service"), "utf8");
    const malformed = unit
      .split("\n")
      .filter((line) => line !== "" && !line.startsWith("[") && !line.includes("="));
    expect(malformed).toEqual([]);
  });
});

describe("readBakeVerdict", () => {
  it.each([
    ["no verdict yet", "[  1.2] booting\ncloud-init: running user data\n", undefined],
    ["an OK line", "booting\nKILN-BAKE: OK hello-service 1.2.3\n", { ok: true }],
    [
      "a FAILED line with its reason",
      "KILN-BAKE: FAILED could not download the artifact\n",
      { ok: false, reason: "could not download the artifact" },
    ],
    [
      "a FAILED line without a reason",
      "KILN-BAKE: FAILED\n",
      { ok: false, reason: "the builder reported a failure" },
    ],
    ["console lines ending in CRLF", "boot\r\nKILN-BAKE: OK hello-service 1.2.3\r\n", { ok: true }],
    [
      "the last of several verdicts",
      "KILN-BAKE: OK a 1\nKILN-BAKE: FAILED install hook failed: x\n",
      { ok: false, reason: "install hook failed: x" },
    ],
    ["only lines that start with the prefix", "echo KILN-BAKE: OK\n", undefined],
  ])("reads %s", (_case, output, expected) => {
    expect(readBakeVerdict(output)).toEqual(expected);
  });
});

describe("bakeCacheKey", () => {
  const sha = "a".repeat(64);

  it("is the same for the same artifact, base image and recipe", () => {
    expect(bakeCacheKey(sha, "ami-1", aManifest())).toBe(
      bakeCacheKey(sha, "ami-1", aManifest({ version: "9.9.9" })),
    );
  });

  it.each([
    ["artifact", bakeCacheKey("b".repeat(64), "ami-1", aManifest())],
    ["base image", bakeCacheKey(sha, "ami-2", aManifest())],
    ["start command", bakeCacheKey(sha, "ami-1", aManifest({ start: "node other.js" }))],
    ["install hook", bakeCacheKey(sha, "ami-1", aManifest({ install: "./setup.sh" }))],
    ["port", bakeCacheKey(sha, "ami-1", aManifest({ port: 9090 }))],
    ["environment", bakeCacheKey(sha, "ami-1", aManifest({ env: { A: "1" } }))],
  ])("changes with the %s", (_what, other) => {
    expect(other).not.toBe(bakeCacheKey(sha, "ami-1", aManifest()));
  });

  it("does not change with the health path, which the image does not hold", () => {
    expect(recipeHash(aManifest({ healthPath: "/ready" }))).toBe(recipeHash(aManifest()));
  });
});
