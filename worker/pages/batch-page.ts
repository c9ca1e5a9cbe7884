/**
 * A suite run's page (the check run's details link): its cases with status, duration, failing step and
 * message, and the failure screenshot behind a disclosure, so the page stays light however large they are.
 */
import { html } from "hono/html";
import { pageArtifactUrl } from "../runs/artifacts.ts";
import type { CaseSummary } from "../runs/case-summary.ts";
import { NOT_STARTED_STATUSES, isFinal } from "../../schema/run-states.ts";
import type { Batch } from "../store/run-store.ts";
import type { PageContent } from "./document.ts";
import { type SuiteStatus, badge, facts, formatDuration, statusLabel, table, time } from "./format.ts";

export interface BatchPageData {
  friendlyId: string;
  batch: Batch;
  suiteName: string | undefined;
  cases: CaseSummary[];
  /** The page token: it also opens the cases' pages and screenshots. */
  token: string;
  expiresAt: Date;
}

// As the check run counts them: a case handed to an executor that has not claimed it yet is still queued.
function suiteStatus(cases: CaseSummary[]): SuiteStatus {
  if (!cases.every((item) => isFinal(item.status)))
    return cases.every((item) => NOT_STARTED_STATUSES.includes(item.status)) ? "QUEUED" : "RUNNING";
  if (cases.every((item) => item.status === "COMPLETED")) return "PASSED";
  return cases.some((item) => item.status !== "COMPLETED" && item.status !== "CANCELED") ? "FAILED" : "CANCELED";
}

function progress(cases: CaseSummary[]): string {
  const count = (test: (item: CaseSummary) => boolean) => cases.filter(test).length;
  const finished = count((item) => isFinal(item.status));
  const parts = [`${finished} of ${cases.length} cases finished`];
  const passed = count((item) => item.status === "COMPLETED");
  const canceled = count((item) => item.status === "CANCELED");
  const failed = finished - passed - canceled;
  if (passed) parts.push(`${passed} passed`);
  if (failed) parts.push(`${failed} failed`);
  if (canceled) parts.push(`${canceled} canceled`);
  return parts.join(", ");
}

function failure(item: CaseSummary, token: string) {
  const step = item.failingStep;
  const message = step?.message ?? item.errorMessage;
  if (!message) return "";
  const url = item.screenshotKey && pageArtifactUrl(item.screenshotKey, token);
  const image = url && html`<img loading="lazy" src="${url}" alt="The page when ${item.name} failed">`;
  return html`${step ? html`<p>Step ${step.index + 1}: ${step.label}</p>` : ""}<pre>${message}</pre>${
    url ? html`<details><summary>Screenshot</summary><a href="${url}">${image}</a></details>` : ""
  }`;
}

export function batchPage({ friendlyId, batch, suiteName, cases, token, expiresAt }: BatchPageData): PageContent {
  const status = suiteStatus(cases);
  const heading = suiteName ? `Suite run: ${suiteName}` : `Batch ${friendlyId}`;
  const final = status !== "QUEUED" && status !== "RUNNING";
  const body = html`<h1>${heading}</h1>
<p id="status" role="status" class="lead">${badge(status)} · ${progress(cases)}</p>
${facts([
  ["Repository", batch.repository],
  ["Commit", batch.headSha && html`<code>${batch.headSha.slice(0, 12)}</code>`],
  ["Ref", batch.ref],
  ["Pull request", batch.pullRequestNumber && `#${batch.pullRequestNumber}`],
  ["Started", time(batch.createdAt)],
])}
${table(
  `Cases (${cases.length})`,
  ["Case", "Status", "Duration", "Failure"],
  cases.map((item) => ({
    id: item.runId,
    name: html`<a href="/runs/${item.runId}?token=${token}">${item.name}</a>`,
    status: badge(item.status),
    duration: formatDuration(item.durationMs),
    detail: failure(item, token),
  })),
)}
<p class="note">This link works until ${time(expiresAt)}.</p>`;
  return {
    title: `${statusLabel(status)} · ${heading} · flightcheck`,
    body,
    live: final ? undefined : { path: `/api/v1/batches/${friendlyId}/live?token=${token}`, since: 0 },
  };
}
