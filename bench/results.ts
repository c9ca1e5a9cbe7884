/**
 * bench/RESULTS.md: `npm run bench` writes it whole; a bench run alone replaces only its own section (found by its
 * `## title`) or adds it at the end, so the figures other benches wrote stay as they were.
 */
import { cpus, totalmem } from "node:os";
import { existsSync, readFileSync, writeFileSync } from "node:fs";

export const RESULTS_FILE = new URL("./RESULTS.md", import.meta.url);

export const machine = () =>
  `${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;

export const section = (title: string, body: string) => `## ${title}\n\n${body}\n`;

/** Replaces the section titled `title` in RESULTS.md (up to the next `## `), or appends it. */
export function replaceResultsSection(title: string, body: string): void {
  const current = existsSync(RESULTS_FILE) ? readFileSync(RESULTS_FILE, "utf8") : "# Benchmark results\n";
  const heading = `## ${title}\n`;
  const start = current.indexOf(heading);
  if (start === -1) {
    writeFileSync(RESULTS_FILE, `${current.trimEnd()}\n\n${section(title, body)}`);
    return;
  }
  const next = current.indexOf("\n## ", start + heading.length);
  const rest = next === -1 ? "" : current.slice(next + 1);
  writeFileSync(RESULTS_FILE, `${current.slice(0, start)}${section(title, body)}${rest ? `\n${rest}` : ""}`);
}
