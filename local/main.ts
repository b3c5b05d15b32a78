/** `npm start`: the local cloud in the foreground on the fixed ports, as `kiln local start` runs it. */
import { runCli } from "../cli/kiln.ts";

process.exitCode = await runCli(["local", "start", ...process.argv.slice(2)]);
