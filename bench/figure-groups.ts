import type { FigureResult } from "./figure.ts";

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

/** The figures of a group that could not be measured, each carrying the reason. */
export function failedFigures(group: FigureGroup, error: string): FigureResult[] {
  return figureGroups[group].map((number) => ({
    number,
    id: group,
    title: group,
    method: "",
    tables: [],
    targets: [],
    notes: [],
    data: null,
    error,
  }));
}
