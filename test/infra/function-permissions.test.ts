/**
 * Least privilege, derived rather than guessed: the AWS calls and variables each handler's code
 * reaches (handler-calls.ts) must be exactly what stacks/ grants and gives it.
 */
import fs from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { functionVariables, localOnlyVariables, tuningVariables } from "../../stacks/function-environment.ts";
import { functionActions } from "../../stacks/permissions.ts";
import { kilnFunctionNames, kilnFunctions } from "../../workflows/functions.ts";
import { analyzeHandlers, type HandlerCalls, iamActionOf } from "./handler-calls.ts";

const root = path.resolve(import.meta.dirname, "../..");
const sorted = (values: Iterable<string>) => [...values].sort();

/** What the analysis found for one handler, or an error when it was not analysed. */
function callsOf(analysed: Record<string, HandlerCalls>, name: string): HandlerCalls {
  const calls = analysed[name];
  if (!calls) throw new Error(`${name} was not analysed (is its entry file missing?)`);
  return calls;
}

const present = kilnFunctionNames.filter((name) => fs.existsSync(path.join(root, kilnFunctions[name])));
let derived: Record<string, HandlerCalls>;
let fixture: Record<string, HandlerCalls>;

// One TypeScript program for the fixtures and Kiln's handlers: building it is most of the cost.
beforeAll(() => {
  const fixtures = {
    "fixture:check": "test/infra/fixtures/handler-calls/check-instance.ts",
    "fixture:launch": "test/infra/fixtures/handler-calls/launch-instance.ts",
    "fixture:aggregated": "test/infra/fixtures/handler-calls/aggregated-client.ts",
  };
  const all = analyzeHandlers(root, {
    ...fixtures,
    ...Object.fromEntries(present.map((name) => [name, kilnFunctions[name]])),
  });
  fixture = Object.fromEntries(
    Object.keys(fixtures).map((key) => [key.replace("fixture:", ""), callsOf(all, key)]),
  );
  derived = Object.fromEntries(present.map((name) => [name, callsOf(all, name)]));
}, 120_000);

describe("handler call analysis", () => {
  it("follows a port call to the adapter method it dispatches to, not to the adapter's other methods", () => {
    expect(sorted(callsOf(fixture, "check").actions)).toEqual(["ec2:DescribeInstances"]);
  });

  it("maps document-client commands to DynamoDB's actions and reads variables by name", () => {
    expect(sorted(callsOf(fixture, "launch").commands)).toEqual([
      "client-ec2:RunInstances",
      "lib-dynamodb:Put",
    ]);
    expect(sorted(callsOf(fixture, "launch").actions)).toEqual(["dynamodb:PutItem", "ec2:RunInstances"]);
    expect(sorted(callsOf(fixture, "launch").variables)).toEqual([
      "KILN_FIXTURE_REGION",
      "KILN_FIXTURE_TABLE",
    ]);
  });

  it("sees operations called as methods of an aggregated client", () => {
    expect(sorted(callsOf(fixture, "aggregated").actions)).toEqual(["s3:GetObject"]);
  });

  it.each([
    ["client-s3:HeadObject", "s3:GetObject"],
    ["client-s3:ListObjectsV2", "s3:ListBucket"],
    ["lib-dynamodb:Query", "dynamodb:Query"],
    ["client-sfn:StartExecution", "states:StartExecution"],
    ["client-sesv2:SendEmail", "ses:SendEmail"],
    ["client-auto-scaling:StartInstanceRefresh", "autoscaling:StartInstanceRefresh"],
  ])("maps %s to %s", (command, action) => {
    expect(iamActionOf(command)).toBe(action);
  });
});

describe("function permissions", () => {
  it.each(kilnFunctionNames)("%s has its entry file", (name) => {
    expect(fs.existsSync(path.join(root, kilnFunctions[name])), kilnFunctions[name]).toBe(true);
  });

  it.each(kilnFunctionNames)(
    "%s is granted exactly the actions of the AWS calls its handler reaches",
    (name) => {
      expect(sorted(new Set(functionActions[name]))).toEqual(sorted(callsOf(derived, name).actions));
    },
  );

  it.each(kilnFunctionNames)("%s is given exactly the deploy variables its code reads", (name) => {
    // Tuning variables have defaults and the local-only ones must stay unset on AWS.
    const unset: readonly string[] = [...tuningVariables, ...localOnlyVariables];
    const read = [...callsOf(derived, name).variables].filter((v) => !unset.includes(v));
    expect(sorted(functionVariables[name])).toEqual(sorted(read));
  });
});
