/**
 * The `kiln` command: `kiln <command> [options]` for the operator commands that talk to the API
 * (deploy, status, history, …), and `kiln <group> <command>` for groups (`local`). Each module
 * holds a table of commands; add one by adding it to `commands` or `groups`.
 */
import "../local/polyfills.ts";
import { type CliCommand, CliError, type CliIo, type CommandGroup } from "./cli-command.ts";
import { deployCommands } from "./deploy-commands.ts";
import { localCommands } from "./local-commands.ts";
import { readCommands } from "./read-commands.ts";

export { type CliCommand, CliError, type CliIo, type CommandGroup } from "./cli-command.ts";

const commands: Record<string, CliCommand> = { ...deployCommands, ...readCommands };

const groups: Record<string, CommandGroup> = {
  local: localCommands,
};

const defaultIo: CliIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

function usage(io: CliIo["out"]): void {
  io("usage: kiln <command> [options]   or   kiln <group> <command> [options]");
  io("");
  for (const [name, command] of Object.entries(commands)) io(`  ${name.padEnd(18)} ${command.summary}`);
  io("");
  for (const [name, group] of Object.entries(groups)) {
    io(`  ${name}   ${group.summary}`);
    for (const [command, entry] of Object.entries(group.commands))
      io(`    ${`${name} ${command}`.padEnd(16)} ${entry.summary}`);
  }
  io("");
  io("The operator commands talk to the local cloud's API, or to a deployed stage's with --api <url>");
  io("(or KILN_API_URL), signing with your AWS credentials. Run `kiln <command> --help` for its options.");
}

/** Runs one command, printing an error the user can act on as its message alone. */
async function runCommand(command: CliCommand, args: string[], io: CliIo): Promise<number> {
  try {
    return await command.run(args, io);
  } catch (error) {
    if (error instanceof CliError) {
      io.err(`kiln: ${error.message}`);
      return error.exitCode;
    }
    // Errors that explain themselves (a port in use, a cloud already running) print as messages.
    if (
      error instanceof Error &&
      /(AlreadyRunning|PortInUse|Validation|InvalidInput|ArtifactRejected)/.test(error.name)
    ) {
      io.err(`kiln: ${error.message}`);
      return 1;
    }
    io.err(`kiln: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    return 1;
  }
}

/** Runs the CLI with `argv` (without `node` and the script) and resolves with the exit code. */
export async function runCli(argv: string[], io: CliIo = defaultIo): Promise<number> {
  const [groupName, commandName, ...args] = argv;
  if (groupName === undefined || groupName === "help" || groupName === "--help" || groupName === "-h") {
    usage(io.out);
    return groupName === undefined ? 2 : 0;
  }
  const topLevel = Object.hasOwn(commands, groupName) ? commands[groupName] : undefined;
  if (topLevel !== undefined) {
    const rest = argv.slice(1);
    if (rest.includes("--help") || rest.includes("-h")) {
      io.out(`usage: kiln ${groupName} ${topLevel.usage}`);
      io.out(topLevel.summary);
      return 0;
    }
    return runCommand(topLevel, rest, io);
  }
  const group = Object.hasOwn(groups, groupName) ? groups[groupName] : undefined;
  if (group === undefined) {
    io.err(`kiln: unknown command "${groupName}"`);
    usage(io.err);
    return 2;
  }
  const command =
    commandName !== undefined && Object.hasOwn(group.commands, commandName)
      ? group.commands[commandName]
      : undefined;
  if (command === undefined) {
    if (commandName !== undefined && commandName !== "--help")
      io.err(`kiln: unknown command "${groupName} ${commandName}"`);
    for (const [name, entry] of Object.entries(group.commands))
      io.err(`  kiln ${groupName} ${name.padEnd(8)} ${entry.summary}`);
    return commandName === "--help" ? 0 : 2;
  }
  if (args.includes("--help") || args.includes("-h")) {
    io.out(`usage: kiln ${groupName} ${commandName} ${command.usage}`);
    io.out(command.summary);
    return 0;
  }
  return runCommand(command, args, io);
}
