/** What the commands that talk to the operator API share: their options, the client, the output helpers. */
import { type ParseArgsConfig, parseArgs } from "node:util";
import { KilnApi, resolveApiTarget } from "./api-client.ts";
import { CliError, type CliIo } from "./cli-command.ts";
import { stateDirFrom } from "./local-commands.ts";

/** Options every API command takes. */
export const apiOptions = {
  api: { type: "string" },
  "state-dir": { type: "string" },
  json: { type: "boolean" },
} as const;

export const apiUsage = "[--api URL] [--state-dir DIR] [--json]";

/** Parses a command's arguments and checks its positionals (`[name]` is optional); a usage error exits with 2. */
export function parseCommand<T extends NonNullable<ParseArgsConfig["options"]>>(
  args: string[],
  options: T,
  positionals: string[],
) {
  const parsed = (() => {
    try {
      return parseArgs({ args, options, strict: true, allowPositionals: true });
    } catch (error) {
      throw new CliError(error instanceof Error ? error.message : String(error), 2);
    }
  })();
  if (parsed.positionals.length > positionals.length) {
    throw new CliError(`unexpected argument "${parsed.positionals[positionals.length]}"`, 2);
  }
  const missing = positionals.find(
    (name, index) => parsed.positionals[index] === undefined && !name.startsWith("["),
  );
  if (missing) throw new CliError(`missing ${missing}`, 2);
  return parsed;
}

/** The API client for `--api` / KILN_API_URL / the local cloud. */
export async function connect(values: {
  api?: string | undefined;
  "state-dir"?: string | undefined;
}): Promise<KilnApi> {
  return new KilnApi(
    await resolveApiTarget({ api: values.api, stateDir: stateDirFrom(values["state-dir"]) }),
  );
}

export function printJson(io: CliIo, value: unknown): void {
  io.out(JSON.stringify(value, null, 2));
}

/** Rows as aligned columns, the first row a header. */
export function table(rows: string[][]): string[] {
  const widths = rows.reduce<number[]>(
    (max, row) => row.map((cell, index) => Math.max(max[index] ?? 0, [...cell].length)),
    [],
  );
  return rows.map((row) =>
    row
      .map((cell, index) =>
        index === row.length - 1 ? cell : cell + " ".repeat((widths[index] ?? 0) - [...cell].length),
      )
      .join("  ")
      .trimEnd(),
  );
}

/** `12.3s` or `4m 05s`. */
export function duration(ms: number | undefined): string {
  if (ms === undefined) return "";
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const seconds = Math.round(ms / 1000);
  return `${Math.floor(seconds / 60)}m ${String(seconds % 60).padStart(2, "0")}s`;
}

/** A positive whole number option. */
export function countOption(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed <= 0)
    throw new CliError(`--${name} must be a positive whole number, got "${value}"`, 2);
  return parsed;
}
