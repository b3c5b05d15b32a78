/**
 * The part of systemd an instance needs to start its services: the units enabled for
 * `multi-user.target`, and their `[Service]` ExecStart=, WorkingDirectory=, Environment= and
 * EnvironmentFile= lines. Absolute paths in a unit name files inside the instance root; a
 * program the root does not hold is the host's (the local base image's "OS" is the host's).
 */
import { existsSync } from "node:fs";
import { lstat, readdir, readFile, readlink } from "node:fs/promises";
import { isAbsolute, join, resolve } from "node:path";

const SYSTEM_DIR = "etc/systemd/system";
const WANTS_DIR = `${SYSTEM_DIR}/multi-user.target.wants`;

export interface EnabledUnit {
  name: string;
  /** The unit file inside the root, or undefined when the enablement points nowhere. */
  file?: string;
}

export interface ServiceUnit {
  execStart?: string;
  workingDirectory?: string;
  environment: Array<[string, string]>;
  environmentFiles: string[];
}

export interface UnitCommand {
  program: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
}

/** Units enabled in `etc/systemd/system/multi-user.target.wants/`, in name order. */
export async function enabledUnits(root: string): Promise<EnabledUnit[]> {
  const wantsDir = join(root, WANTS_DIR);
  let names: string[];
  try {
    names = (await readdir(wantsDir)).filter((name) => name.endsWith(".service")).sort();
  } catch {
    return [];
  }
  return Promise.all(
    names.map(async (name) => {
      const link = join(wantsDir, name);
      const stats = await lstat(link);
      if (!stats.isSymbolicLink()) return { name, file: link };
      const target = await readlink(link);
      // Enablement links are absolute inside the instance (`/etc/systemd/system/x.service`).
      const file = isAbsolute(target) ? join(root, target) : resolve(wantsDir, target);
      return existsSync(file) ? { name, file } : { name };
    }),
  );
}

/** Splits a unit file's lines, joining backslash continuations and dropping comments. */
function logicalLines(text: string): string[] {
  const lines: string[] = [];
  let current = "";
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trimEnd();
    if (current === "" && /^\s*[#;]/.test(line)) continue;
    if (line.endsWith("\\")) {
      current += `${line.slice(0, -1)} `;
      continue;
    }
    lines.push(current + line);
    current = "";
  }
  if (current !== "") lines.push(current);
  return lines.map((line) => line.trim()).filter((line) => line !== "");
}

/** Splits a command line or assignment list the way systemd does: whitespace, quotes, backslashes. */
export function splitWords(text: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  let quote: string | undefined;
  for (let index = 0; index < text.length; index += 1) {
    const char = text.charAt(index);
    if (char === "\\" && index + 1 < text.length) {
      const next = text.charAt(index + 1);
      word = (word ?? "") + ({ n: "\n", t: "\t" }[next] ?? next);
      index += 1;
    } else if (quote !== undefined) {
      if (char === quote) quote = undefined;
      else word = (word ?? "") + char;
    } else if (char === '"' || char === "'") {
      quote = char;
      word ??= "";
    } else if (/\s/.test(char)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else {
      word = (word ?? "") + char;
    }
  }
  if (word !== undefined) words.push(word);
  return words;
}

function assignments(words: string[]): Array<[string, string]> {
  return words.flatMap((word): Array<[string, string]> => {
    const equals = word.indexOf("=");
    return equals > 0 ? [[word.slice(0, equals), word.slice(equals + 1)]] : [];
  });
}

/** Reads the `[Service]` settings the emulator honours. */
export function parseServiceUnit(text: string): ServiceUnit {
  const unit: ServiceUnit = { environment: [], environmentFiles: [] };
  let section = "";
  for (const line of logicalLines(text)) {
    const header = /^\[(.+)\]$/.exec(line);
    if (header !== null) {
      section = header[1] ?? "";
      continue;
    }
    if (section !== "Service") continue;
    const equals = line.indexOf("=");
    if (equals < 0) continue;
    const key = line.slice(0, equals).trim();
    const value = line.slice(equals + 1).trim();
    if (key === "ExecStart") unit.execStart = value === "" ? undefined : value;
    else if (key === "WorkingDirectory") unit.workingDirectory = value;
    else if (key === "Environment") unit.environment.push(...assignments(splitWords(value)));
    else if (key === "EnvironmentFile" && value !== "") unit.environmentFiles.push(value);
  }
  return unit;
}

function expandVariables(word: string, env: Record<string, string>): string {
  return word.replace(
    /\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (_, braced, bare) => env[braced ?? bare] ?? "",
  );
}

/** An absolute path inside the root when the root holds it, else the path as the host has it. */
function inRootIfPresent(root: string, path: string): string {
  if (!isAbsolute(path)) return path;
  const inside = join(root, path);
  return existsSync(inside) ? inside : path;
}

async function readEnvironmentFile(root: string, spec: string): Promise<Array<[string, string]>> {
  const optional = spec.startsWith("-");
  const path = join(root, optional ? spec.slice(1) : spec);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if (optional) return [];
    throw new Error(
      `EnvironmentFile ${spec} cannot be read: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  return logicalLines(text).flatMap((line) => assignments(splitWords(line)));
}

/** The unit's WorkingDirectory= inside the root; "-" makes a missing one fall back to the root, as to systemd's "/". */
function workingDirectoryIn(root: string, setting: string): string {
  const optional = setting.startsWith("-");
  const directory = optional ? setting.slice(1) : setting;
  const cwd = directory === "~" ? root : join(root, directory);
  if (existsSync(cwd)) return cwd;
  if (optional) return root;
  throw new Error(
    `Changing to the requested working directory failed: ${directory} does not exist in the instance`,
  );
}

/** Turns a unit into the command to spawn inside `root`; throws with systemd's reason when it cannot start. */
export async function resolveUnitCommand(
  unit: ServiceUnit,
  root: string,
  baseEnv: Record<string, string>,
): Promise<UnitCommand> {
  if (unit.execStart === undefined) throw new Error("Service has no ExecStart= setting");
  const env: Record<string, string> = { ...baseEnv };
  for (const file of unit.environmentFiles)
    for (const [key, value] of await readEnvironmentFile(root, file)) env[key] = value;
  for (const [key, value] of unit.environment) env[key] = value;
  // systemd's ExecStart prefixes: "-" ignore failure, "@" argv[0] follows, "+", "!", "!!", ":" privileges/expansion.
  const prefix = /^[-@:+!]*/.exec(unit.execStart)?.[0] ?? "";
  const words = splitWords(unit.execStart.slice(prefix.length)).map((word) =>
    prefix.includes(":") ? word : expandVariables(word, env),
  );
  const [program, ...rest] = words;
  if (program === undefined) throw new Error("Service has an empty ExecStart= setting");
  const args = prefix.includes("@") ? rest.slice(1) : rest;
  return {
    program: inRootIfPresent(root, program),
    args: args.map((arg) => inRootIfPresent(root, arg)),
    cwd: workingDirectoryIn(root, unit.workingDirectory ?? "/"),
    env,
  };
}
