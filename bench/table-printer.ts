/** Plain-text rendering of the figures: aligned tables, targets met or missed said plainly. */
import type { FigureResult, Table } from "./figure.ts";

/** A table with each column as wide as its widest cell. */
export function renderTable(table: Table): string {
  const widths = table.columns.map((column, index) =>
    Math.max(column.length, ...table.rows.map((row) => (row[index] ?? "").length)),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, index) => cell.padEnd(widths[index] ?? 0))
      .join("  ")
      .trimEnd();
  return [
    ...(table.title ? [table.title] : []),
    `  ${line(table.columns)}`,
    `  ${widths.map((width) => "─".repeat(width)).join("  ")}`,
    ...table.rows.map((row) => `  ${line(row)}`),
  ].join("\n");
}

/** One figure: title, how it was measured, its tables, its targets, its notes. */
export function renderFigure(figure: FigureResult): string {
  const parts = [`━━ Figure ${figure.number}: ${figure.title}`];
  if (figure.error !== undefined) {
    parts.push(`NOT MEASURED: ${figure.error}`);
    return parts.join("\n");
  }
  parts.push(`How: ${figure.method}`);
  for (const table of figure.tables) parts.push(renderTable(table));
  if (figure.targets.length > 0) {
    parts.push(
      [
        "Targets",
        ...figure.targets.map(
          (target) =>
            `  ${target.met ? "met   " : "MISSED"}  ${target.name}: ${target.actual} (target ${target.target})`,
        ),
      ].join("\n"),
    );
  }
  if (figure.notes.length > 0) parts.push(["Notes", ...figure.notes.map((note) => `  - ${note}`)].join("\n"));
  if (figure.elapsedMs !== undefined) parts.push(`(measured in ${(figure.elapsedMs / 1000).toFixed(0)} s)`);
  return parts.join("\n\n");
}

/** Every target of every figure, in one list. */
export function renderSummary(figures: FigureResult[]): string {
  const rows = figures.flatMap((figure) =>
    figure.error !== undefined
      ? [[String(figure.number), "NOT MEASURED", figure.title, figure.error.split("\n")[0] ?? "", ""]]
      : figure.targets.map((target) => [
          String(figure.number),
          target.met ? "met" : "MISSED",
          target.name,
          target.actual,
          target.target,
        ]),
  );
  return renderTable({ title: "━━ Targets", columns: ["fig", "", "what", "measured", "target"], rows });
}
