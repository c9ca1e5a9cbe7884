/**
 * Ending runs (DESIGN §2.5): a final status is written to the owning store by compare-and-set, RunDO
 * hears it, and if the run held a concurrency slot the organisation's queued runs are promoted in the same
 * request. Canceling cascades to children.
 */
import type { RunStatus } from "../../schema/contracts.ts";
import { ProblemError, notFound } from "../problem.ts";
import type { AuthenticatedEnvironment } from "../store/control-plane-store.ts";
import type { Run } from "../store/run-store.ts";
import type { EngineDeps } from "./deps.ts";
import { publishStatus } from "./live.ts";
import { promoteQueuedRuns } from "./promote.ts";
import { ACTIVE_STATUSES, isFinal, sourcesOf } from "./transitions.ts";

export interface RunResult {
  output?: unknown;
  error?: { message: string; [detail: string]: unknown };
}

/** Moves `run` to a final status; undefined if it had already moved on (another writer won). */
export async function finishRun(deps: EngineDeps, run: Run, status: RunStatus, result: RunResult = {}): Promise<Run | undefined> {
  const finished = await deps.runs.updateRun(
    run.id,
    { status, completedAt: new Date(), output: result.output, error: result.error },
    sourcesOf(status),
  );
  if (!finished) return undefined;
  await publishStatus(deps, finished);
  if (ACTIVE_STATUSES.includes(run.status)) await promoteQueuedRuns(deps, run.organizationId);
  return finished;
}

export async function cancelRun(deps: EngineDeps, environment: AuthenticatedEnvironment, runId: string): Promise<Run> {
  const run = await deps.runs.findRun(environment.environmentId, runId, { fresh: true });
  if (!run) throw notFound("Run");
  if (isFinal(run.status)) {
    throw new ProblemError({ status: 409, title: "Run already finished", detail: `The run is ${run.status} and cannot be canceled` });
  }
  const canceled = await cancelTree(deps, run);
  return canceled ?? (await deps.runs.findRun(environment.environmentId, runId, { fresh: true }))!;
}

async function cancelTree(deps: EngineDeps, run: Run): Promise<Run | undefined> {
  const canceled = isFinal(run.status) ? undefined : await finishRun(deps, run, "CANCELED", { error: { message: "Canceled" } });
  for (const child of await deps.runs.findChildren(run.id)) await cancelTree(deps, child);
  return canceled;
}
