/** Small helpers every benchmark shares: timing, percentiles, and one printed table. */
export function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export const mean = (samples: number[]) => samples.reduce((sum, x) => sum + x, 0) / samples.length;

/** A statistic of each round's samples, then the median of those: one slow round cannot move the figure. */
export const medianOfRounds = <T>(rounds: T[][], statistic: (samples: T[]) => number) =>
  percentile(rounds.map(statistic), 50);

export async function timed(run: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await run();
  return performance.now() - started;
}

/** A markdown table; numbers with two decimals. */
export function formatTable(rows: Record<string, string | number>[]): string {
  const columns = Object.keys(rows[0] ?? {});
  const cell = (value: string | number) =>
    typeof value === "number" ? (Number.isInteger(value) ? String(value) : value.toFixed(2)) : value;
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]!).length)));
  const line = (values: string[]) => `| ${values.map((v, i) => v.padEnd(widths[i]!)).join(" | ")} |`;
  return [
    line(columns),
    line(widths.map((w) => "-".repeat(w))),
    ...rows.map((row) => line(columns.map((c) => cell(row[c]!)))),
  ].join("\n");
}
