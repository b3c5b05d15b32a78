/** The figures, grouped by the process that measures them, in the order the runner runs them. */
export const figureGroups = {
  // First: the deployments' cost figure prices cold starts with its import times.
  bundles: [7],
  deployments: [1, 2, 3],
  concurrency: [4],
  history: [5],
  prune: [6],
  "npm-start": [8],
} as const;

export type FigureGroup = keyof typeof figureGroups;

export const figureGroupNames = Object.keys(figureGroups) as FigureGroup[];
