/**
 * `sst deploy` cannot run here, so the compiler is the first proof the infrastructure code is
 * right: sst.config.ts, stacks/ and the synthesis harness against the SST 4.17 platform types.
 */
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const root = path.resolve(import.meta.dirname, "../..");

describe("infrastructure code", () => {
  it("type-checks against the SST platform (tsc -p tsconfig.infra.json)", async () => {
    if (!fs.existsSync(path.join(root, ".sst/platform/config.d.ts"))) {
      throw new Error(
        ".sst/platform is missing: run `node scripts/prepare-infra.mjs` (an offline `sst install`) first",
      );
    }
    const tsc = path.join(root, "node_modules/typescript/bin/tsc");
    const result = await promisify(execFile)(
      process.execPath,
      [tsc, "-p", "tsconfig.infra.json", "--noEmit", "--pretty", "false"],
      {
        cwd: root,
      },
    ).then(
      () => ({ code: 0, output: "" }),
      (error: { code?: number; stdout?: string; stderr?: string }) => ({
        code: error.code ?? 1,
        output: `${error.stdout}${error.stderr}`,
      }),
    );
    expect(result.output).toBe("");
    expect(result.code).toBe(0);
  }, 120_000);
});
