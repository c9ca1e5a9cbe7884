/**
 * A suite run's check run as it should read now (DESIGN §6), built from the batch and its runs in the
 * store: always the whole state, so a lost or repeated update is corrected by the next one.
 */
import type { CheckRunSync } from "../../schema/github.ts";
import { pageArtifactUrl } from "../runs/artifacts.ts";
import { summarizeCases } from "../runs/case-summary.ts";
import { specFacts } from "../runs/spec-runs.ts";
import type { EngineDeps } from "../runs/deps.ts";
import type { TrackedCheckRun } from "../runs/objects.ts";
import { mintPageToken } from "../runs/tokens.ts";
import { NOT_STARTED_STATUSES, isFinal } from "../../schema/run-states.ts";
import { toFriendlyId } from "../store/ids.ts";
import type { Run } from "../store/run-store.ts";

/** A check run is built from the batch's runs and posted by the executor. */
type CheckRunDeps = Pick<EngineDeps, "runs" | "config" | "callExecutor">;

function conclusionOf(runs: Run[]): NonNullable<CheckRunSync["conclusion"]> {
  if (runs.every((run) => run.status === "COMPLETED")) return "success";
  if (runs.some((run) => run.status !== "COMPLETED" && run.status !== "CANCELED")) return "failure";
  return "cancelled";
}

export async function buildCheckRunSync(
  deps: CheckRunDeps,
  batchId: string,
  tracked: TrackedCheckRun,
  checkRunId: number | undefined,
): Promise<CheckRunSync | undefined> {
  const found = await deps.runs.findBatch(tracked.environmentId, batchId, { fresh: true });
  if (!found) return undefined;
  const { batch, runs } = found;
  const publicUrl = deps.config.PUBLIC_URL ?? new URL(tracked.detailsUrl).origin;
  // Screenshot links open under the suite run's page token: people reading the check on GitHub hold no API key.
  const pageToken = await mintPageToken(
    deps.config.SIGNING_SECRET,
    tracked.environmentId,
    toFriendlyId("batch", batch.id),
  );
  const cases = (await summarizeCases(deps.runs, runs))
    .map(({ name, status, durationMs, failingStep, screenshotKey }, index) => ({
      name,
      status,
      durationMs,
      failingStep,
      screenshotUrl: screenshotKey ? `${publicUrl}${pageArtifactUrl(screenshotKey, pageToken)}` : null,
      ...specFacts(runs[index]!),
    }))
    // A repository suite's setup run that went through is no case of its own: its tests are.
    .filter((_, index) => !(runs[index]!.task === "spec-suite" && runs[index]!.status === "COMPLETED"));
  const completed = runs.every((run) => isFinal(run.status));
  const started = runs.some((run) => !NOT_STARTED_STATUSES.includes(run.status));
  return {
    installationId: tracked.installationId,
    repository: tracked.repository,
    headSha: tracked.headSha,
    checkRunId,
    name: tracked.name,
    detailsUrl: tracked.detailsUrl,
    externalId: toFriendlyId("batch", batch.id),
    status: completed ? "completed" : started ? "in_progress" : "queued",
    conclusion: completed ? conclusionOf(runs) : undefined,
    startedAt: started ? batch.createdAt.toISOString() : undefined,
    completedAt: completed ? new Date().toISOString() : undefined,
    cases,
  };
}

/** Sends the current state to the executor, which posts it to GitHub; returns the check run's id. */
export async function sendCheckRun(
  deps: CheckRunDeps,
  batchId: string,
  tracked: TrackedCheckRun,
  checkRunId: number | undefined,
): Promise<number | undefined> {
  const sync = await buildCheckRunSync(deps, batchId, tracked, checkRunId);
  if (!sync) return checkRunId;
  const response = await deps.callExecutor("/github/check-runs", sync);
  if (!response.ok) {
    const answer = (await response.text()).slice(0, 300);
    throw new Error(`check run for batch ${batchId}: executor answered HTTP ${response.status} ${answer}`);
  }
  const { checkRunId: id } = (await response.json()) as { checkRunId: number };
  if (id !== checkRunId) await deps.runs.updateBatch(batchId, { checkRunId: id });
  return id;
}
