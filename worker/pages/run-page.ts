/**
 * One run's page: its status, what failed (step, message, screenshot) and its steps per attempt. Attempts
 * that ended come from the store; the attempt still running has reported nothing there yet, so its steps
 * come from the run's live log.
 */
import { html } from "hono/html";
import type { RunEvent } from "../../schema/live.ts";
import { pageArtifactUrl, traceViewerUrl } from "../runs/artifacts.ts";
import { caseName, durationOf } from "../runs/case-summary.ts";
import { isFinal } from "../../schema/run-states.ts";
import { toFriendlyId } from "../store/ids.ts";
import type { Run, StepResult } from "../store/run-store.ts";
import type { PageContent } from "./document.ts";
import { type StepStatus, type TableRow, badge, facts, formatDuration, statusLabel, table, time } from "./format.ts";

export type StepView = Pick<StepResult, "index" | "action" | "label" | "durationMs" | "error" | "screenshotKey"> & {
  status: StepStatus;
};

/**
 * The steps of the attempt running now, from the run's event log: the step events since it last started
 * EXECUTING (a resume from WAITING continues the same attempt), the latest event per step.
 */
export function currentAttemptSteps(events: RunEvent[]): StepView[] {
  let steps = new Map<number, StepView>();
  let previous: string | undefined;
  for (const event of events) {
    if (event.type === "status") {
      const { status } = event.data;
      if (status === "EXECUTING" && previous !== "WAITING") steps = new Map();
      previous = status;
    } else if (event.type === "step") {
      const step = event.data;
      steps.set(step.index, {
        ...step,
        label: step.name,
        durationMs: step.durationMs ?? null,
        error: step.error ?? null,
        screenshotKey: null,
      });
    }
  }
  return [...steps.values()].sort((a, b) => a.index - b.index);
}

export interface RunPageData {
  friendlyId: string;
  run: Run;
  /** Every attempt's recorded steps, plus the running attempt's from the live log. */
  steps: (StepView & { attempt: number })[];
  /** The keys of the Playwright traces and videos the run's last attempt kept. */
  recordings: string[];
  /** The token in the page's address: it opens the screenshots. */
  token: string;
  /** The suite run's page, when this page was opened with the suite run's link. */
  suiteRunUrl: string | undefined;
  /** While the run can change: a token for its live socket, and the last event the page shows. */
  live: { token: string; since: number } | undefined;
  expiresAt: Date;
}

const stepName = (step: StepView) => `${step.index + 1}. ${step.label ?? step.action}`;

const screenshot = (step: StepView, token: string) =>
  step.screenshotKey ? html`<a href="${pageArtifactUrl(step.screenshotKey, token)}">Screenshot</a>` : "";

function stepRow(step: StepView, token: string): TableRow {
  return {
    name: stepName(step),
    status: badge(step.status),
    duration: formatDuration(step.durationMs),
    detail: html`${step.error ? html`<pre>${step.error}</pre>` : ""}${screenshot(step, token)}`,
  };
}

/** What went wrong in the last attempt: the failed step, the message and the page at that moment. */
function failure(run: Run, failed: StepView | undefined, token: string) {
  const message = failed?.error ?? (run.error as { message?: string } | null)?.message;
  if (!message) return "";
  const step = failed && html`<p>Step ${failed.index + 1}: ${failed.label ?? failed.action}</p>`;
  const url = failed?.screenshotKey && pageArtifactUrl(failed.screenshotKey, token);
  const caption = `The page when step ${(failed?.index ?? 0) + 1} failed`;
  const image = html`<a href="${url}"><img loading="lazy" src="${url}" alt="${caption}"></a>`;
  const figure = url && html`<figure>${image}<figcaption class="note">${caption}</figcaption></figure>`;
  return html`<h2>What failed</h2>${step ?? ""}<pre>${message}</pre>${figure || ""}`;
}

/** `try-1-trace.zip` → "try 1": an earlier try of a flaky test; the deciding try's files have no prefix. */
const tryOf = (key: string) => /\/try-(\d+)-[^/]*$/.exec(key)?.[1];

/** Each trace opens in the trace viewer (and downloads); each video plays. */
function recordingsList(recordings: string[], token: string) {
  if (!recordings.length) return "";
  return html`<h2>Trace and video</h2><ul>${recordings.map((key) => {
    const which = tryOf(key) ? ` (try ${tryOf(key)}, failed)` : "";
    const file = pageArtifactUrl(key, token);
    if (!key.endsWith(".zip")) return html`<li><a href="${file}">Video${which}</a></li>`;
    const viewer = html`<a href="${traceViewerUrl(key, token)}">Open trace${which}</a>`;
    return html`<li>${viewer} · <a href="${file}" download>download</a></li>`;
  })}</ul>`;
}

function statusLine(run: Run, steps: RunPageData["steps"]): string {
  const parts: string[] = [];
  if (run.attempt > 0) parts.push(`attempt ${run.attempt} of ${run.maxAttempts}`);
  const running = steps.find((step) => step.attempt === run.attempt && step.status === "RUNNING");
  if (running && !isFinal(run.status)) parts.push(`step ${stepName(running)}`);
  return parts.join(" · ");
}

export function runPage(data: RunPageData): PageContent {
  const { friendlyId, run, steps, recordings, token, suiteRunUrl, live, expiresAt } = data;
  const attempts = [...new Set(steps.map((step) => step.attempt))].sort((a, b) => b - a);
  const unsuccessful = isFinal(run.status) && run.status !== "COMPLETED";
  const failed = unsuccessful
    ? steps.find((step) => step.attempt === run.attempt && step.status === "FAILED")
    : undefined;
  const line = statusLine(run, steps);
  const name = caseName(run);
  const body = html`<h1>${name}</h1>
<p id="status" role="status" class="lead">${badge(run.status)}${line && ` · ${line}`}</p>
<div id="content" data-swap>${facts([
    ["Task", run.task],
    [
      "Suite run",
      run.batchId &&
        (suiteRunUrl
          ? html`<a href="${suiteRunUrl}">${toFriendlyId("batch", run.batchId)}</a>`
          : toFriendlyId("batch", run.batchId)),
    ],
    ["Started", run.startedAt && time(run.startedAt)],
    ["Finished", run.completedAt && time(run.completedAt)],
    ["Duration", formatDuration(durationOf(run))],
  ])}${unsuccessful ? failure(run, failed, token) : ""}${recordingsList(recordings, token)}${attempts.map((attempt) =>
    table(
      `Steps of attempt ${attempt} of ${run.maxAttempts}`,
      ["Step", "Status", "Duration", "Error"],
      steps.filter((step) => step.attempt === attempt).map((step) => stepRow(step, token)),
    ),
  )}</div>
<p class="note">This link works until ${time(expiresAt)}.</p>`;
  return {
    title: `${statusLabel(run.status)} · ${name} · flightcheck`,
    body,
    live: live && { path: `/api/v1/runs/${friendlyId}/live?token=${live.token}`, since: live.since },
  };
}
