/** What a `kiln` command is, shared by cli/kiln.ts and the modules that define command groups. */

export interface CliIo {
  out: (line: string) => void;
  err: (line: string) => void;
}

export interface CliCommand {
  summary: string;
  usage: string;
  /** Runs the command with the arguments after its name; resolves with the exit code. */
  run(args: string[], io: CliIo): Promise<number>;
}

export interface CommandGroup {
  summary: string;
  commands: Record<string, CliCommand>;
}

/** An error the user can act on: printed as its message alone, without a stack. */
export class CliError extends Error {
  override readonly name = "CliError";

  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}
