/** Summaries of repeated measurements: every figure says how many runs, the median and the spread. */

export interface Summary {
  runs: number;
  median: number;
  min: number;
  max: number;
  p25: number;
  p75: number;
  p99: number;
}

/** The value below which `fraction` of the sorted samples fall (linear interpolation). */
export function quantile(sorted: number[], fraction: number): number {
  if (sorted.length === 0) return Number.NaN;
  const position = (sorted.length - 1) * fraction;
  const low = Math.floor(position);
  const high = Math.ceil(position);
  const lowValue = sorted[low] ?? Number.NaN;
  const highValue = sorted[high] ?? Number.NaN;
  return lowValue + (highValue - lowValue) * (position - low);
}

/** Median, quartiles, extremes and p99 of a set of samples. */
export function summarize(samples: number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    runs: sorted.length,
    median: quantile(sorted, 0.5),
    min: sorted[0] ?? Number.NaN,
    max: sorted.at(-1) ?? Number.NaN,
    p25: quantile(sorted, 0.25),
    p75: quantile(sorted, 0.75),
    p99: quantile(sorted, 0.99),
  };
}

/** The total of the values. */
export function sum(values: number[]): number {
  return values.reduce((total, value) => total + value, 0);
}

/** The middle value (the mean of the two middle ones for an even count). */
export function median(values: number[]): number {
  return quantile(
    [...values].sort((a, b) => a - b),
    0.5,
  );
}
