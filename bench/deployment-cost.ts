/**
 * Figure 3: what one deployment asks of AWS — state transitions, function invocations and their
 * durations, AWS API calls by action — and what that would cost on AWS (Step Functions Standard,
 * Lambda as deployed, DynamoDB on-demand as an upper estimate), plus what Kiln does while idle.
 */

import { defaultSizing, type KilnFunctionName } from "../workflows/functions.ts";
import { type CallCounts, totalCalls } from "./aws-call-counter.ts";
import { awsPrices, deployedFunctions, lambdaInvocationCost, memoryMbOf } from "./aws-prices.ts";
import type { DeploymentKind, DeploymentObservation, DeploymentRuns } from "./deployment-runs.ts";
import { dollars, type FigureResult, millis, type Table } from "./figure.ts";
import { median, sum, summarize } from "./stats.ts";

export const costTarget = 0.005;

export interface DeploymentBill {
  stateTransitions: number;
  invocations: number;
  billedLambdaMs: number;
  apiCalls: number;
  stepFunctions: number;
  lambdaRequests: number;
  lambdaDuration: number;
  /** Upper estimate: every write as large as the deployment item, written with both indexes. */
  dynamoDb: number;
  total: number;
  /** If every function it used started cold once (deployments are rare: likely on AWS). */
  coldStarts?: number;
}

/** The invocations of a deployment, with the in-process API request billed as one `api` invocation. */
function invocationsOf(
  observation: DeploymentObservation,
): Array<{ name: KilnFunctionName; durationMs: number }> {
  const invoked = observation.invocations.flatMap((entry) =>
    entry.durationsMs.map((durationMs) => ({ name: entry.name, durationMs })),
  );
  if (observation.inProcessRequestMs !== undefined)
    invoked.push({ name: "api", durationMs: observation.inProcessRequestMs });
  return invoked;
}

function dynamoDbEstimate(calls: CallCounts, itemBytes: number): number {
  const writes = ["PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem"].reduce(
    (total, action) => total + (calls[`dynamodb:${action}`] ?? 0),
    0,
  );
  const reads = ["GetItem", "Query", "Scan", "BatchGetItem"].reduce(
    (total, action) => total + (calls[`dynamodb:${action}`] ?? 0),
    0,
  );
  // The deployment item, the largest Kiln writes, lands in the table and both indexes.
  const writeUnits = writes * Math.ceil(itemBytes / 1024) * 3;
  const readUnits = reads * Math.ceil(itemBytes / 4096);
  return (
    writeUnits * awsPrices.dynamoDb.perWriteRequestUnit + readUnits * awsPrices.dynamoDb.perReadRequestUnit
  );
}

/** What a deployment would be billed for on AWS. */
export function billOf(
  observation: DeploymentObservation,
  coldImportMs?: Record<string, number>,
): DeploymentBill {
  const invoked = invocationsOf(observation);
  const lambdaRequests = invoked.length * awsPrices.lambda.perRequest;
  const lambdaDuration =
    sum(invoked.map((call) => lambdaInvocationCost(call.name, call.durationMs))) - lambdaRequests;
  const stepFunctions = observation.stateTransitions * awsPrices.stepFunctions.standardPerStateTransition;
  const dynamoDb = dynamoDbEstimate(observation.calls, Buffer.byteLength(JSON.stringify(observation.record)));
  const bill: DeploymentBill = {
    stateTransitions: observation.stateTransitions,
    invocations: invoked.length,
    billedLambdaMs: sum(invoked.map((call) => Math.max(1, Math.ceil(call.durationMs)))),
    apiCalls: totalCalls(observation.calls),
    stepFunctions,
    lambdaRequests,
    lambdaDuration,
    dynamoDb,
    total: stepFunctions + lambdaRequests + lambdaDuration + dynamoDb,
  };
  if (coldImportMs !== undefined) {
    const used = [...new Set(invoked.map((call) => call.name))];
    bill.coldStarts = sum(
      used.map((name) => {
        const ms = coldImportMs[name] ?? 0;
        return lambdaInvocationCost(name, ms) - awsPrices.lambda.perRequest;
      }),
    );
  }
  return bill;
}

function perKind(runs: DeploymentRuns, kind: DeploymentKind) {
  return runs.observations.filter(
    (observation) => observation.kind === kind && observation.status === "SUCCEEDED",
  );
}

/** Builds figure 3 from the observed deployments; `coldImportMs` (figure 7) prices cold starts. */
export function deploymentCostFigure(
  runs: DeploymentRuns,
  coldImportMs?: Record<string, number>,
): FigureResult {
  const kinds: DeploymentKind[] = ["fresh bake", "bake-cache hit"];
  const bills = new Map(
    kinds.map((kind) => [kind, perKind(runs, kind).map((observation) => billOf(observation, coldImportMs))]),
  );
  const column = (pick: (bill: DeploymentBill) => number, format: (value: number) => string) =>
    kinds.map((kind) => {
      const values = (bills.get(kind) ?? []).map(pick);
      if (values.length === 0) return "–";
      const summary = summarize(values);
      return summary.min === summary.max
        ? format(summary.median)
        : `${format(summary.median)} (${format(summary.min)}–${format(summary.max)})`;
    });
  const count = (value: number) => value.toFixed(0);
  const costTable: Table = {
    title: "Per deployment, median (min–max)",
    columns: ["", ...kinds],
    rows: [
      ["state transitions", ...column((bill) => bill.stateTransitions, count)],
      ["function invocations", ...column((bill) => bill.invocations, count)],
      [
        "billed Lambda time",
        ...column(
          (bill) => bill.billedLambdaMs,
          (ms) => millis(ms, 0),
        ),
      ],
      ["AWS API calls", ...column((bill) => bill.apiCalls, count)],
      ["Step Functions Standard", ...column((bill) => bill.stepFunctions, dollars)],
      ["Lambda requests", ...column((bill) => bill.lambdaRequests, dollars)],
      [
        `Lambda duration (${deployedFunctions.architecture})`,
        ...column((bill) => bill.lambdaDuration, dollars),
      ],
      ["DynamoDB on-demand (upper estimate)", ...column((bill) => bill.dynamoDb, dollars)],
      ["total", ...column((bill) => bill.total, dollars)],
      ...(coldImportMs === undefined
        ? []
        : [["+ if every function used starts cold", ...column((bill) => bill.coldStarts ?? 0, dollars)]]),
    ],
  };

  const fresh = perKind(runs, "fresh bake");
  const functionNames = [
    ...new Set(
      kinds.flatMap((kind) =>
        perKind(runs, kind).flatMap((observation) => invocationsOf(observation).map((call) => call.name)),
      ),
    ),
  ];
  const invokedIn = (observation: DeploymentObservation, name: string) =>
    invocationsOf(observation).filter((call) => call.name === name);
  const functionTable: Table = {
    title:
      "Function invocations per deployment (median count; duration median, max over all their invocations)",
    columns: ["function", "memory", ...kinds.map((kind) => `${kind}: n`), "duration median", "max"],
    rows: functionNames.map((name) => {
      const duration = summarize(
        kinds.flatMap((kind) =>
          perKind(runs, kind).flatMap((observation) =>
            invokedIn(observation, name).map((call) => call.durationMs),
          ),
        ),
      );
      return [
        name === "api" ? "api (the cache hit's request)" : name,
        `${memoryMbOf(name)} MB`,
        ...kinds.map((kind) =>
          median(perKind(runs, kind).map((observation) => invokedIn(observation, name).length)).toFixed(0),
        ),
        millis(duration.median),
        millis(duration.max),
      ];
    }),
  };
  const actions = [
    ...new Set(
      kinds.flatMap((kind) => perKind(runs, kind).flatMap((observation) => Object.keys(observation.calls))),
    ),
  ].sort();
  const callTable: Table = {
    title: "AWS API calls by Kiln per deployment, by action (median)",
    columns: ["service:Action", ...kinds],
    rows: actions.map((action) => [
      action,
      ...kinds.map((kind) =>
        median(perKind(runs, kind).map((observation) => observation.calls[action] ?? 0)).toFixed(0),
      ),
    ]),
  };

  const { idle } = runs;
  const pruneRun = idle.scheduledPrune.durationsMs[0];
  const pruneMonthly =
    pruneRun === undefined ? undefined : 30 * lambdaInvocationCost("pruneImages", pruneRun);
  const idleTable: Table = {
    title: `While idle: ${(idle.windowMs / 1000).toFixed(0)} s with nothing deployed`,
    columns: ["", "value"],
    rows: [
      ["function invocations", String(idle.invocations)],
      ["executions started", String(idle.executionsStarted)],
      ["state transitions", String(idle.stateTransitions)],
      ["AWS API calls by Kiln", String(totalCalls(idle.calls))],
      [
        "scheduled work: the daily prune",
        pruneRun === undefined
          ? "not measured"
          : `one run ${millis(pruneRun, 0)}, ${totalCalls(idle.scheduledPrune.calls)} calls; ×30 a month = ${dollars(pruneMonthly ?? 0)}`,
      ],
    ],
  };

  const targets = kinds.map((kind) => {
    const totals = (bills.get(kind) ?? []).map((bill) => bill.total + (bill.coldStarts ?? 0));
    const worst = totals.length === 0 ? Number.NaN : Math.max(...totals);
    return {
      name: `cost per deployment, ${kind} (worst run${coldImportMs ? ", cold starts included" : ""})`,
      target: `< ${dollars(costTarget)}`,
      actual: Number.isNaN(worst) ? "not measured" : dollars(worst),
      met: worst < costTarget,
    };
  });
  const idleBilled = idle.invocations + idle.stateTransitions;
  targets.push({
    name: "billed while idle (invocations + transitions in the idle window)",
    target: "0",
    actual: String(idleBilled),
    met: idleBilled === 0,
  });

  return {
    number: 3,
    id: "deployment-cost",
    title: "Work and AWS cost per deployment",
    method: `The ${fresh.length + perKind(runs, "bake-cache hit").length} deployments of figure 1. Transitions: states entered plus retries, as Step Functions bills them (the local Step Functions counts them); invocations and durations from the local Lambda runtime (warm, in process); API calls counted by an SDK middleware on Kiln's own clients (bench/aws-call-counter.ts). Prices: ${awsPrices.region}, taken ${awsPrices.takenOn} (bench/aws-prices.ts), no free tier; functions billed as deployed (${deployedFunctions.architecture}, ${defaultSizing.memoryMb} MB unless sized otherwise), per 1 ms.`,
    tables: [costTable, functionTable, callTable, idleTable],
    targets,
    notes: [
      "The cache hit is requested in the benchmark's process through requestDeployment, as the API's POST /deployments does; it is billed as one api invocation of the measured duration.",
      `Lambda durations are measured in this process on the local cloud; on AWS, calls to AWS take longer than to 127.0.0.1, so billed duration there is likely higher — at ${dollars((256 / 1024) * awsPrices.lambda.perGbSecond[deployedFunctions.architecture])} per second of a 256 MB function, even ten times the duration stays far from the target.`,
      "S3 (onArtifact reading the artifact), SES (notifications) and EC2/Auto Scaling calls are counted above but not priced: EC2 and Auto Scaling API calls are free, the S3 and SES requests cost fractions of a thousandth of a cent. The builder's download of the artifact by presigned URL is not an SDK call and is not counted.",
      ...(coldImportMs === undefined
        ? []
        : [
            "Cold starts are priced at each bundle's measured import time (figure 7): a lower bound of Lambda's INIT phase, billed since August 2025, which also starts the runtime.",
          ]),
      "Instances (builder, canary) run for the deployment's duration and are billed by EC2: that is the workload's cost, not the orchestration's, and is not included.",
    ],
    data: {
      prices: awsPrices,
      bills: Object.fromEntries(kinds.map((kind) => [kind, bills.get(kind)])),
      calls: runs.observations.map((observation) => ({
        kind: observation.kind,
        version: observation.version,
        calls: observation.calls,
      })),
      idle,
    },
  };
}
