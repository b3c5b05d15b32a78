/** ARNs of the local Step Functions, in the account and region of the local cloud. */
import { accountId, region } from "../endpoints.ts";

const prefix = `arn:aws:states:${region}:${accountId}`;

/** The ARN of the state machine called `name`. */
export function stateMachineArn(name: string): string {
  return `${prefix}:stateMachine:${name}`;
}

/** The ARN of execution `executionName` of state machine `stateMachineName`. */
export function executionArn(stateMachineName: string, executionName: string): string {
  return `${prefix}:execution:${stateMachineName}:${executionName}`;
}

/** The state machine name in a state machine ARN, or undefined for anything else. */
export function stateMachineNameOf(arn: string): string | undefined {
  const match = /^arn:aws:states:[^:]+:\d{12}:stateMachine:([^:]+)$/.exec(arn);
  return match?.[1];
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: AWS forbids control characters in names.
const forbiddenInNames = /[\s<>{}[\]?*"#%\\^|~`$&,;:/\u0000-\u001f\u007f-\u009f]/;

/** AWS's rule for state machine and execution names: 1–80 characters, none of the forbidden ones. */
export function isValidName(name: string): boolean {
  return name.length >= 1 && name.length <= 80 && !forbiddenInNames.test(name);
}
