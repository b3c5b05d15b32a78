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
