import * as z from "zod";

/** What every benchmark figure reports: how it was measured, its tables, its targets met or missed. */

export interface Table {
  title?: string;
  columns: string[];
  rows: string[][];
}

export interface TargetCheck {
  /** What is compared, e.g. "lead/floor, fresh bake (median)". */
  name: string;
  /** The target as the issue states it, e.g. "≤ 1.10". */
  target: string;
  /** The measured value, formatted. */
  actual: string;
  met: boolean;
}

export interface FigureResult {
  /** 1–8, as the issue numbers them. */
  number: number;
  id: string;
  title: string;
  /** How it was measured: runs, statistic, spread, conditions. */
  method: string;
  tables: Table[];
  targets: TargetCheck[];
  notes: string[];
  /** Raw figures for bench/results/latest.json. */
  data: unknown;
  /** Wall time the figure took to measure, ms. */
  elapsedMs?: number;
  /** Set when the figure could not be measured at all. */
  error?: string;
}

/** Options every figure receives from the runner. */
/** FigureResult values as a figure process writes them, read back by the runner. */
export const figureResultsSchema = z.array(
  z.object({
    number: z.number(),
    id: z.string(),
    title: z.string(),
    method: z.string(),
    tables: z.array(
      z.object({
        title: z.string().optional(),
        columns: z.array(z.string()),
        rows: z.array(z.array(z.string())),
      }),
    ),
    targets: z.array(
      z.object({ name: z.string(), target: z.string(), actual: z.string(), met: z.boolean() }),
    ),
    notes: z.array(z.string()),
    data: z.unknown(),
    elapsedMs: z.number().optional(),
    error: z.string().optional(),
  }),
) satisfies z.ZodType<FigureResult[]>;

export interface BenchOptions {
  quick: boolean;
  /** AWS-like durations × this factor. */
  timescale: number;
  log: (line: string) => void;
}

/** Formatters for the tables: milliseconds shown as seconds or milliseconds, ratios, dollars. */
export const seconds = (ms: number, digits = 2) => `${(ms / 1000).toFixed(digits)} s`;
export const millis = (ms: number, digits = 1) => `${ms.toFixed(digits)} ms`;
export const ratio = (value: number) => value.toFixed(3);
export const dollars = (value: number) => `$${value < 0.01 ? value.toFixed(6) : value.toFixed(4)}`;

/** "median (min–max, n runs)" for a set of millisecond samples shown in seconds. */
export function secondsSpread(summary: { runs: number; median: number; min: number; max: number }): string {
  return `${seconds(summary.median)} (${(summary.min / 1000).toFixed(2)}–${(summary.max / 1000).toFixed(2)}, n=${summary.runs})`;
}
