/**
 * Ending runs (DESIGN §2.5): a final status is written to the owning store by compare-and-set, RunDO
 * hears it, a parent waiting on it (or on its batch) is told, and its admission is released: the slot it held
 * (or its place in the queue) goes to the organisation's oldest queued run in the same request. Canceling
 * cascades to children.
 */
import type { RunStatus } from "../../schema/contracts.ts";
import { ProblemError, notFound } from "../problem.ts";
import type { AuthenticatedEnvironment } from "../store/control-plane-store.ts";
import { toFriendlyId } from "../store/ids.ts";
import type { Run } from "../store/run-store.ts";
import type { EngineDeps } from "./deps.ts";
import { publishStatus, republishFinalStatus } from "./live.ts";
import { releaseAndPromote } from "./promote.ts";
import { completeWaitsOnBatch, completeWaitsOnChild } from "./waitpoints.ts";
import { isFinal, sourcesOf } from "./transitions.ts";

export interface RunResult {
  output?: unknown;
  error?: { message: string; [detail: string]: unknown };
}

/**
 * Moves `run` to a final status (only while at `atAttempt`, when an attempt's own result or watchdog ends it);
 * undefined if it had already moved on (another writer won). What follows the write is its settling; if the
 * Worker dies before that is done, the sweep settles the run again.
 */
export async function finishRun(
  deps: EngineDeps,
  run: Run,
  status: RunStatus,
  result: RunResult = {},
  atAttempt?: number,
): Promise<Run | undefined> {
  const finished = await deps.runs.updateRun(
    run.id,
    { status, completedAt: new Date(), output: result.output, error: result.error },
    sourcesOf(status),
    atAttempt,
  );
  if (!finished) return undefined;
  await settle(deps, finished, publishStatus(deps, finished, undefined, run.status));
  // Its ledger row goes (a no-op for a run that never had one: DELAYED) and the slot it held is taken.
  await releaseAndPromote(deps, run.organizationId, [run.id]);
  return finished;
}

/**
 * Settles a final run again (the sweep's repair): its RunDOs, its parent's wait and its batch. Every step is
 * idempotent, so settling a run that was settled after all changes nothing. Promotion is the sweep's own pass.
 */
export async function resettleRun(deps: EngineDeps, run: Run): Promise<void> {
  await settle(deps, run, republishFinalStatus(deps, run));
}

/** The RunDOs are told (`published`), the parent's wait on the run and its batch complete, then it is settled. */
async function settle(deps: EngineDeps, run: Run, published: Promise<unknown>): Promise<void> {
  await Promise.all([published, completeWaitsOnChild(deps, run), settleBatch(deps, run)]);
  await deps.runs.updateRun(run.id, { settledAt: new Date() });
}

/** When the last item of a batch ends, the batch completes, and so does a parent's wait on it. */
async function settleBatch(deps: EngineDeps, item: Run): Promise<void> {
  if (!item.batchId) return;
  const found = await deps.runs.findBatch(item.environmentId, item.batchId, { fresh: true });
  if (!found?.runs.every((run) => isFinal(run.status))) return;
  await Promise.all([
    deps.bindings.RUN_DO.getByName(toFriendlyId("batch", item.batchId)).completeBatch(item.batchId),
    found.batch.parentRunId && completeWaitsOnBatch(deps, found.batch.parentRunId, found.batch.id, found.runs),
  ]);
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
