/** The pieces both pages are made of: status badges, durations, times and the reflowing table. */
import { html } from "hono/html";
import type { RunStatus } from "../../schema/run-states.ts";
import type { StepResult } from "../store/run-store.ts";

export type Html = ReturnType<typeof html>;

type Tone = "ok" | "bad" | "run" | "idle";
export type StepStatus = StepResult["status"] | "RUNNING";
export type SuiteStatus = "QUEUED" | "RUNNING" | "PASSED" | "FAILED" | "CANCELED";

// Status is always a word; the symbol and colour only repeat it (and the symbol is hidden from screen readers).
const BADGES: Record<RunStatus | StepStatus | SuiteStatus, [label: string, tone: Tone, symbol: string]> = {
  DELAYED: ["Delayed", "idle", "○"],
  QUEUED: ["Queued", "idle", "○"],
  PENDING: ["Pending", "idle", "○"],
  DEQUEUED: ["Starting", "run", "●"],
  EXECUTING: ["Running", "run", "●"],
  RUNNING: ["Running", "run", "●"],
  WAITING: ["Waiting", "run", "‖"],
  COMPLETED: ["Passed", "ok", "✓"],
  PASSED: ["Passed", "ok", "✓"],
  FAILED: ["Failed", "bad", "✗"],
  CRASHED: ["Crashed", "bad", "✗"],
  SYSTEM_FAILURE: ["System failure", "bad", "✗"],
  EXPIRED: ["Expired", "bad", "✗"],
  TIMED_OUT: ["Timed out", "bad", "✗"],
  CANCELED: ["Canceled", "idle", "⊘"],
  SKIPPED: ["Skipped", "idle", "–"],
};

export function badge(status: keyof typeof BADGES): Html {
  const [label, tone, symbol] = BADGES[status];
  return html`<span class="st ${tone}"><span aria-hidden="true">${symbol}</span> ${label}</span>`;
}

export const statusLabel = (status: keyof typeof BADGES) => BADGES[status][0];

export function formatDuration(ms: number | null | undefined): string {
  if (ms == null) return "";
  if (ms < 1_000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1_000)} s`;
}

export const time = (date: Date) =>
  html`<time datetime="${date.toISOString()}">${date.toISOString().slice(0, 19).replace("T", " ")} UTC</time>`;

/** Term/description pairs; undefined values are left out. */
export const facts = (pairs: [term: string, value: Html | string | number | null | undefined][]) =>
  html`<dl class="facts">${pairs
    .filter(([, value]) => value != null && value !== "")
    .map(([term, value]) => html`<div><dt>${term}</dt><dd>${value}</dd></div>`)}</dl>`;

export interface TableRow {
  /** Rows with an id are swapped one by one by the live script when they change. */
  id?: string;
  name: Html | string;
  status: Html;
  duration: string;
  detail: Html | string;
}

/**
 * Four columns (name, status, duration, detail) that become one card per row on a narrow screen. The roles
 * restate the table's own semantics, which some browsers drop once CSS changes a table's display.
 */
export const table = (caption: string, columns: [string, string, string, string], rows: TableRow[]) =>
  html`<table role="table"><caption>${caption}</caption><thead role="rowgroup"><tr role="row">${columns.map(
    (column) => html`<th role="columnheader" scope="col">${column}</th>`,
  )}</tr></thead><tbody role="rowgroup">${rows.map((row) => {
    const name = html`<th role="rowheader" scope="row">${row.name}</th>`;
    const cells = [row.status, row.duration, row.detail].map((cell) => html`<td role="cell">${cell}</td>`);
    return html`<tr role="row"${row.id ? html` id="${row.id}" data-swap` : ""}>${name}${cells}</tr>`;
  })}</tbody></table>`;
