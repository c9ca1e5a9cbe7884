/** The API's view of records (DESIGN §8): friendly ids, ISO dates, nothing internal. */
import { toFriendlyId } from "../store/ids.ts";
import type { Batch, Run, StepResult } from "../store/run-store.ts";
import { artifactUrl } from "../runs/artifacts.ts";
import { isFinal } from "../../schema/run-states.ts";

const iso = (date: Date | null) => date?.toISOString() ?? null;

export function presentRun(run: Run, steps: StepResult[] = []) {
  return {
    id: toFriendlyId("run", run.id),
    task: run.task,
    status: run.status,
    payload: run.payload,
    output: run.output,
    error: run.error,
    attempt: run.attempt,
    maxAttempts: run.maxAttempts,
    tags: run.tags,
    metadata: run.metadata,
    idempotencyKey: run.idempotencyKey,
    batchId: run.batchId ? toFriendlyId("batch", run.batchId) : null,
    parentRunId: run.parentRunId ? toFriendlyId("run", run.parentRunId) : null,
    createdAt: iso(run.createdAt),
    delayUntil: iso(run.delayUntil),
    expiresAt: iso(run.expiresAt),
    startedAt: iso(run.startedAt),
    completedAt: iso(run.completedAt),
    steps: steps.map((step) => ({
      attempt: step.attempt,
      index: step.index,
      action: step.action,
      label: step.label,
      status: step.status,
      durationMs: step.durationMs,
      error: step.error,
      screenshotUrl: step.screenshotKey && artifactUrl(step.screenshotKey),
    })),
  };
}

export function presentBatch(batch: Batch, runs: Run[]) {
  const counts: Record<string, number> = { total: runs.length, completed: 0, failed: 0 };
  for (const run of runs) {
    const key = run.status.toLowerCase();
    counts[key] = (counts[key] ?? 0) + 1;
  }
  counts.failed = runs.filter((run) => isFinal(run.status) && run.status !== "COMPLETED").length;
  const completed = runs.every((run) => isFinal(run.status));
  // A batch ends with its last item: derived from the items, so it can never disagree with them.
  const completedAt = completed ? new Date(Math.max(...runs.map((run) => run.completedAt?.getTime() ?? 0))) : null;
  return {
    id: toFriendlyId("batch", batch.id),
    status: completed ? "COMPLETED" : "PENDING",
    counts,
    parentRunId: batch.parentRunId ? toFriendlyId("run", batch.parentRunId) : null,
    createdAt: iso(batch.createdAt),
    completedAt: iso(completedAt),
    runs: runs.map((run) => presentRun(run)),
  };
}
