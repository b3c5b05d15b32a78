/**
 * The `kiln` command: `kiln <group> <command> [options]`. Each group (`local`, …) is a table of
 * commands in its own module; add a group by adding it to `groups`.
 */
import "../local/polyfills.ts";
import { CliError, type CliIo, type CommandGroup } from "./cli-command.ts";
import { localCommands } from "./local-commands.ts";

export { type CliCommand, CliError, type CliIo, type CommandGroup } from "./cli-command.ts";

const groups: Record<string, CommandGroup> = {
  local: localCommands,
};

const defaultIo: CliIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

function usage(io: CliIo["out"]): void {
  io("usage: kiln <group> <command> [options]");
  io("");
  for (const [name, group] of Object.entries(groups)) {
    io(`  ${name}   ${group.summary}`);
    for (const [command, entry] of Object.entries(group.commands))
      io(`    ${`${name} ${command}`.padEnd(16)} ${entry.summary}`);
  }
  io("");
  io("Run `kiln <group> <command> --help` for a command's options.");
}

/** Runs the CLI with `argv` (without `node` and the script) and resolves with the exit code. */
export async function runCli(argv: string[], io: CliIo = defaultIo): Promise<number> {
  const [groupName, commandName, ...args] = argv;
  if (groupName === undefined || groupName === "help" || groupName === "--help" || groupName === "-h") {
    usage(io.out);
    return groupName === undefined ? 2 : 0;
  }
  const group = Object.hasOwn(groups, groupName) ? groups[groupName] : undefined;
  if (group === undefined) {
    io.err(`kiln: unknown command group "${groupName}"`);
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
  try {
    return await command.run(args, io);
  } catch (error) {
    if (error instanceof CliError) {
      io.err(`kiln: ${error.message}`);
      return error.exitCode;
    }
    // Errors that explain themselves (a port in use, a cloud already running) print as messages.
    if (error instanceof Error && /(AlreadyRunning|PortInUse|Validation)/.test(error.name)) {
      io.err(`kiln: ${error.message}`);
      return 1;
    }
    io.err(`kiln: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    return 1;
  }
}
