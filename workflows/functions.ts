/**
 * Every Lambda function Kiln deploys, with its entry file. The deploy workflow refers to
 * functions by these names; the SST stack and the local cloud bind names to handlers.
 */
export const kilnFunctions = {
  onArtifact: "functions/on-artifact.ts",
  onExecutionEnded: "functions/on-execution-ended.ts",
  api: "functions/api.ts",
  notify: "functions/notify.ts",
  pruneImages: "functions/prune-images.ts",
  prepare: "functions/prepare.ts",
  launchBuilder: "functions/launch-builder.ts",
  checkBuilder: "functions/check-builder.ts",
  createImage: "functions/create-image.ts",
  checkImage: "functions/check-image.ts",
  terminateInstances: "functions/terminate-instances.ts",
  launchCanary: "functions/launch-canary.ts",
  checkCanary: "functions/check-canary.ts",
  createTemplateVersion: "functions/create-template-version.ts",
  pinGroupVersion: "functions/pin-group-version.ts",
  startRefresh: "functions/start-refresh.ts",
  checkRefresh: "functions/check-refresh.ts",
  watch: "functions/watch.ts",
  wake: "functions/wake.ts",
  rollBack: "functions/roll-back.ts",
  finish: "functions/finish.ts",
  recordOutcome: "functions/record-outcome.ts",
  releaseLock: "functions/release-lock.ts",
} as const;

export type KilnFunctionName = keyof typeof kilnFunctions;

export const kilnFunctionNames = Object.keys(kilnFunctions) as KilnFunctionName[];

export interface FunctionSizing {
  timeoutSeconds: number;
  memoryMb: number;
}

/** A short task's time and memory, as every function is deployed unless sized otherwise. */
export const defaultSizing: FunctionSizing = { timeoutSeconds: 30, memoryMb: 256 };

/** Functions that need more than a short task's time or memory. */
const sizing: Partial<Record<KilnFunctionName, Partial<FunctionSizing>>> = {
  // Reads and checks the whole artifact (gzip, tar, manifest, sha256) before anything launches.
  onArtifact: { timeoutSeconds: 300, memoryMb: 1024 },
  pruneImages: { timeoutSeconds: 300, memoryMb: 512 },
  // Probes for up to 10 s (core/deploy/canary.ts), and the last GET may wait its own timeout (≤ 30 s).
  checkCanary: { timeoutSeconds: 60 },
  // API Gateway stops waiting for an integration after 30 seconds.
  api: { timeoutSeconds: 29, memoryMb: 512 },
};

/** The time and memory `name` is deployed with: on AWS by the stack, locally by the Lambda runtime. */
export function sizingOf(name: KilnFunctionName): FunctionSizing {
  return { ...defaultSizing, ...sizing[name] };
}
