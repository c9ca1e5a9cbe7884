/**
 * A check run's `output`: a one-line title and a markdown summary (a table of cases) that GitHub shows on the
 * pull request. GitHub refuses a summary over 65,535 characters, so rows stop before that with a note.
 */
import type { RunStatus } from "../schema/run-states.ts";
import type { CheckRunCase, CheckRunSync } from "../schema/github.ts";

/** Counted in UTF-8 bytes, which is never less than characters however GitHub counts them. */
export const MAX_SUMMARY_BYTES = 65_535;
const MAX_MESSAGE_CHARS = 300;

type Outcome = "passed" | "failed" | "timed out" | "cancelled" | "pending" | "running";

const OUTCOMES: Record<RunStatus, { outcome: Outcome; icon: string }> = {
  DELAYED: { outcome: "pending", icon: "⏳" },
  QUEUED: { outcome: "pending", icon: "⏳" },
  PENDING: { outcome: "pending", icon: "⏳" },
  DEQUEUED: { outcome: "running", icon: "🔄" },
  EXECUTING: { outcome: "running", icon: "🔄" },
  WAITING: { outcome: "running", icon: "🔄" },
  COMPLETED: { outcome: "passed", icon: "✅" },
  FAILED: { outcome: "failed", icon: "❌" },
  CRASHED: { outcome: "failed", icon: "💥" },
  SYSTEM_FAILURE: { outcome: "failed", icon: "💥" },
  TIMED_OUT: { outcome: "timed out", icon: "⏱️" },
  // Expired before it ever started: it ran out of time waiting.
  EXPIRED: { outcome: "timed out", icon: "⏱️" },
  CANCELED: { outcome: "cancelled", icon: "🚫" },
};
const FINISHED: Outcome[] = ["passed", "failed", "timed out", "cancelled"];

const plural = (count: number, noun: string) => `${count} ${noun}${count === 1 ? "" : "s"}`;

export function renderTitle({ status, cases }: Pick<CheckRunSync, "status" | "cases">): string {
  const counts = new Map<Outcome, number>();
  for (const { status: caseStatus } of cases) {
    const { outcome } = OUTCOMES[caseStatus];
    counts.set(outcome, (counts.get(outcome) ?? 0) + 1);
  }
  const finished = FINISHED.reduce((sum, outcome) => sum + (counts.get(outcome) ?? 0), 0);
  const unfinished = cases.length - finished;
  if (status === "queued") return `Queued: ${plural(cases.length, "case")}`;
  if (status === "in_progress") {
    const problems = FINISHED.filter((outcome) => outcome !== "passed" && counts.get(outcome))
      .map((outcome) => `${counts.get(outcome)} ${outcome}`)
      .join(", ");
    return `Running: ${finished} of ${plural(cases.length, "case")} finished${problems ? ` (${problems})` : ""}`;
  }
  if (cases.length === 0) return "No cases";
  const flaky = cases.filter((entry) => entry.flaky).length;
  const parts = FINISHED.filter((outcome) => counts.get(outcome)).map(
    (outcome) => `${counts.get(outcome)} ${outcome}${outcome === "passed" && flaky ? ` (${flaky} flaky)` : ""}`,
  );
  if (unfinished) parts.push(`${unfinished} not finished`);
  return parts.join(", ");
}

export function renderSummary(sync: Pick<CheckRunSync, "cases" | "detailsUrl">): string {
  const detailsLink = `[Open this suite run in flightcheck](${markdownUrl(sync.detailsUrl)})`;
  if (sync.cases.length === 0) return `No cases in this suite run.\n\n${detailsLink}\n`;

  const head = "| | Case | Duration | Failing step | Screenshot |\n|---|---|---|---|---|\n";
  const footer = `\n${detailsLink}\n`;
  // Room for the note about left-out rows, whatever the count.
  const reserve = byteLength(truncationNote(sync.cases.length, sync.detailsUrl));
  let summary = head;
  let used = byteLength(head) + byteLength(footer);
  for (const [shown, entry] of sync.cases.entries()) {
    const row = renderRow(entry);
    const size = byteLength(row);
    const isLast = shown === sync.cases.length - 1;
    if (used + size + (isLast ? 0 : reserve) > MAX_SUMMARY_BYTES)
      return summary + truncationNote(sync.cases.length - shown, sync.detailsUrl) + footer;
    summary += row;
    used += size;
  }
  return summary + footer;
}

function renderRow({ name, status, durationMs, failingStep, screenshotUrl, flaky }: CheckRunCase): string {
  const { icon, outcome } = flaky ? { icon: "⚠️", outcome: "flaky" } : OUTCOMES[status];
  const step = failingStep
    ? `Step ${failingStep.index + 1} (${shorten(failingStep.label)}): ${shorten(failingStep.message)}`
    : "";
  const cells = [
    // "passed" reads better than the run's COMPLETED; other statuses say more than their outcome (crashed).
    `${icon} ${outcome === "passed" || outcome === "flaky" ? outcome : status.toLowerCase().replaceAll("_", " ")}`,
    escapeCell(name),
    durationMs == null ? "" : formatDuration(durationMs),
    escapeCell(step),
    screenshotUrl ? `[screenshot](${markdownUrl(screenshotUrl)})` : "",
  ];
  return `| ${cells.join(" | ")} |\n`;
}

/** GitHub takes at most 50 annotations per request, and adds each request's to the ones it has. */
export const MAX_ANNOTATIONS = 50;

export interface Annotation {
  path: string;
  start_line: number;
  end_line: number;
  annotation_level: "failure" | "warning";
  title: string;
  message: string;
}

/**
 * Annotations at the spec line of each failed (or flaky) repository test. Only on the completing update:
 * GitHub appends annotations on every update, and the whole state is sent each time.
 */
export function renderAnnotations(sync: Pick<CheckRunSync, "cases" | "status">): Annotation[] {
  if (sync.status !== "completed") return [];
  return sync.cases
    .flatMap(({ name, status, location, flaky, failingStep }) => {
      const failed = !["passed", "cancelled"].includes(OUTCOMES[status].outcome);
      if (!location || !(failed || flaky)) return [];
      const message = failingStep?.message ?? (flaky ? "failed, then passed on a retry" : status.toLowerCase());
      const level = failed ? ("failure" as const) : ("warning" as const);
      return [
        {
          path: location.path,
          start_line: location.line,
          end_line: location.line,
          annotation_level: level,
          title: cutTitle(name),
          message: message.slice(0, 60_000),
        },
      ];
    })
    .slice(0, MAX_ANNOTATIONS);
}

const cutTitle = (name: string) => ([...name].length <= 255 ? name : `${[...name].slice(0, 254).join("")}…`);

const truncationNote = (leftOut: number, detailsUrl: string) =>
  `\n_${plural(leftOut, "more case")} not shown here (GitHub's summary limit): ` +
  `see [the full run](${markdownUrl(detailsUrl)})._\n`;

/** One line, at most MAX_MESSAGE_CHARS: a check run summary is a glance, the full text is behind details. */
function shorten(message: string): string {
  const line = message.replace(/\s+/g, " ").trim();
  const chars = [...line];
  return chars.length <= MAX_MESSAGE_CHARS ? line : `${chars.slice(0, MAX_MESSAGE_CHARS - 1).join("")}…`;
}

/** U+200B as an entity: invisible, and it breaks the patterns GitHub turns into mentions, references and links. */
const BREAK = "&#8203;";

/**
 * Text from a case (its name, a step's error) as inert text in a table cell. Backslash-escape what markdown
 * would read as syntax: `|` splits a table cell (and `\` before it would undo that escape), `<` starts HTML
 * (Playwright errors quote elements), `[` starts a link or image, `*`, `_`, `` ` ``, `~`, `&` format. Then
 * break what GitHub links on its own: `@user` mentions, `#1` and `GH-1` references, `scheme://` and `www.`
 * autolinks (a bare `user@host` address is broken at its `@`).
 */
const escapeCell = (value: string) =>
  value
    .replace(/\s+/g, " ")
    .replace(/[\\|<>*_`[\]~&]/g, "\\$&")
    .replace(/[@#]/g, `$&${BREAK}`)
    .replace(/\b(gh)-/gi, `$1${BREAK}-`)
    .replace(/:\/\//g, `:${BREAK}//`)
    .replace(/\b(www)\./gi, `$1${BREAK}.`);

/** A link target that survives a table cell: `|` and parentheses percent-encoded, the rest normalised by URL. */
const markdownUrl = (url: string) =>
  new URL(url).href.replace(/[|()]/g, (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`);

function formatDuration(ms: number): string {
  if (ms < 1_000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(1)} s`;
  const seconds = Math.round(ms / 1_000);
  return `${Math.floor(seconds / 60)} min ${String(seconds % 60).padStart(2, "0")} s`;
}

const encoder = new TextEncoder();
const byteLength = (value: string) => encoder.encode(value).length;
