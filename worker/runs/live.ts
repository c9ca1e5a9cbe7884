/** The run engine's line to the RunDOs: every status change, as it is written to the owning store. */
import { toFriendlyId } from "../store/ids.ts";
import type { Run } from "../store/run-store.ts";
import type { EngineDeps } from "./deps.ts";
import { isFinal } from "./transitions.ts";

/**
 * Tells the run's RunDO (and its subscribers) the run's status, and its batch's RunDO if it has one. A
 * DELAYED run's alarm is set for its time. When the last item of a batch ends, the batch completes.
 */
export async function publishStatus(deps: EngineDeps, run: Run): Promise<void> {
  const wakeAt = run.status === "DELAYED" ? run.delayUntil?.getTime() : undefined;
  const friendlyId = toFriendlyId("run", run.id);
  await deps.bindings.RUN_DO.getByName(friendlyId).setStatus(run.id, run.status, wakeAt);
  if (!run.batchId) return;
  const batchObject = deps.bindings.RUN_DO.getByName(toFriendlyId("batch", run.batchId));
  await batchObject.recordItemStatus(friendlyId, run.status);
  if (!isFinal(run.status)) return;
  const batch = await deps.runs.findBatch(run.environmentId, run.batchId, { fresh: true });
  if (batch?.runs.every((item) => isFinal(item.status))) await batchObject.completeBatch(run.batchId);
}
