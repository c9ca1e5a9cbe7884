/** The batch's part in "run finished": when its last item ends, the batch completes, and so does a parent's wait. */
import { isFinal } from "../../schema/run-states.ts";
import type { EngineDeps } from "./deps.ts";
import type { RunFinished } from "./run-finished.ts";
import { completeWaitsOnBatch } from "./waitpoints.ts";

/** Settling reads the batch and tells its object. */
type SettleDeps = Pick<EngineDeps, "runs" | "objects">;

export const settleBatch =
  (deps: SettleDeps) =>
  async ({ run: item }: RunFinished): Promise<void> => {
    if (!item.batchId) return;
    const found = await deps.runs.findBatch(item.environmentId, item.batchId, { fresh: true });
    if (!found?.runs.every((run) => isFinal(run.status))) return;
    await Promise.all([
      deps.objects.batch(item.batchId).completeBatch(item.batchId),
      found.batch.parentRunId && completeWaitsOnBatch(deps, found.batch.parentRunId, found.batch.id, found.runs),
    ]);
  };
