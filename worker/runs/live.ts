/** The run engine's line to the RunDOs: every status change, as it is written to the owning store. */
import type { WakeReason } from "../durable/run-do.ts";
import { toFriendlyId } from "../store/ids.ts";
import type { Run } from "../store/run-store.ts";
import type { EngineDeps } from "./deps.ts";

const runObject = (deps: EngineDeps, run: Pick<Run, "id">) => deps.bindings.RUN_DO.getByName(toFriendlyId("run", run.id));
const batchObject = (deps: EngineDeps, id: string) => deps.bindings.RUN_DO.getByName(toFriendlyId("batch", id));

/**
 * Tells the run's RunDO (and its subscribers) the run's status, and its batch's RunDO if it has one; returns
 * the sequence number of the run's event. A DELAYED run's alarm is set for its time.
 */
export async function publishStatus(deps: EngineDeps, run: Run, detail?: Record<string, unknown>): Promise<number | undefined> {
  const object = runObject(deps, run);
  const [seq] = await Promise.all([
    object.setStatus(run.id, run.status, detail),
    run.status === "DELAYED" && run.delayUntil ? object.wakeAt("delay", run.delayUntil.getTime()) : undefined,
    run.batchId ? batchObject(deps, run.batchId).recordItemStatus(toFriendlyId("run", run.id), run.status) : undefined,
  ]);
  return seq;
}

/**
 * The repair of `publishStatus` for a final run whose RunDOs may never have heard of its end: the run's object
 * takes the final status whatever it holds, and its batch's object hears it (perhaps again: one more event).
 */
export async function republishFinalStatus(deps: EngineDeps, run: Run): Promise<void> {
  await Promise.all([
    runObject(deps, run).reconcile(run.id, run.status),
    run.batchId ? batchObject(deps, run.batchId).recordItemStatus(toFriendlyId("run", run.id), run.status) : undefined,
  ]);
}

/** Wakes the run's engine at `at` (its RunDO alarm), for `reason`. */
export async function wakeRunAt(deps: EngineDeps, run: Pick<Run, "id">, reason: WakeReason, at: number): Promise<void> {
  await runObject(deps, run).wakeAt(reason, at);
}
