/**
 * Ending runs (DESIGN §2.5): a final status is written to the owning store by compare-and-set, and "run
 * finished" is told to its subscribers (`run-finished.ts`): the live channel, the parent's wait, the batch,
 * then the promotion of queued runs into the slot it frees. Canceling cascades to children.
 */
import { type RunStatus, isFinal, sourcesOf } from "../../schema/run-states.ts";
import { ProblemError, notFound } from "../problem.ts";
import type { AuthenticatedEnvironment } from "../store/control-plane-store.ts";
import type { Run } from "../store/run-store.ts";
import type { EngineDeps } from "./deps.ts";

type FinishDeps = Pick<EngineDeps, "runs" | "runFinished">;

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
  deps: FinishDeps,
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
  await deps.runFinished({ run: finished, previous: run.status, repair: false });
  return finished;
}

/** Settles a final run again (the sweep's repair). Promotion is the sweep's own pass. */
export function resettleRun(deps: FinishDeps, run: Run): Promise<void> {
  return deps.runFinished({ run, repair: true });
}

export async function cancelRun(deps: FinishDeps, environment: AuthenticatedEnvironment, runId: string): Promise<Run> {
  const run = await deps.runs.findRun(environment.environmentId, runId, { fresh: true });
  if (!run) throw notFound("Run");
  if (isFinal(run.status)) {
    throw new ProblemError({
      status: 409,
      title: "Run already finished",
      detail: `The run is ${run.status} and cannot be canceled`,
    });
  }
  const canceled = await cancelTree(deps, run);
  return canceled ?? (await deps.runs.findRun(environment.environmentId, runId, { fresh: true }))!;
}

async function cancelTree(deps: FinishDeps, run: Run): Promise<Run | undefined> {
  const canceled = isFinal(run.status)
    ? undefined
    : await finishRun(deps, run, "CANCELED", { error: { message: "Canceled" } });
  for (const child of await deps.runs.findChildren(run.id)) await cancelTree(deps, child);
  return canceled;
}
