#!/usr/bin/env node
// The `kiln` command from the repository (`npx kiln …`): TypeScript runs through tsx, no build.
import { register } from "tsx/esm/api";

register();
const { runCli } = await import("../cli/kiln.ts");
process.exitCode = await runCli(process.argv.slice(2));
