/** The run engine's line to the RunDOs: the status changes they need, as they are written to the owning store. */
import type { RunStatus } from "../../schema/run-states.ts";
import type { WakeReason } from "../../schema/live.ts";
import { toFriendlyId } from "../store/ids.ts";
import type { Run } from "../store/run-store.ts";
import type { EngineDeps } from "./deps.ts";
import type { RunFinished } from "./run-finished.ts";

type LiveDeps = Pick<EngineDeps, "objects">;

const runObject = (deps: LiveDeps, run: Pick<Run, "id">) => deps.objects.run(run.id);
const batchObject = (deps: LiveDeps, id: string) => deps.objects.batch(id);

/**
 * Tells the run's RunDO (and its subscribers) the run's status, and its batch's RunDO if it has one; returns
 * the sequence number of the run's event. A DELAYED run's alarm is set for its time. `previous` is the status
 * the run left in its store: one that left PENDING or DEQUEUED was dispatched, which its object may not have
 * heard (see `publishDispatch`).
 */
export async function publishStatus(
  deps: LiveDeps,
  run: Run,
  detail?: Record<string, unknown>,
  previous?: RunStatus,
): Promise<number | undefined> {
  const object = runObject(deps, run);
  const [seq] = await Promise.all([
    object.setStatus(run.id, run.status, detail, previous),
    run.status === "DELAYED" && run.delayUntil ? object.wakeAt("delay", run.delayUntil.getTime()) : undefined,
    run.batchId ? batchObject(deps, run.batchId).recordItemStatus(toFriendlyId("run", run.id), run.status) : undefined,
  ]);
  return seq;
}

/**
 * A PENDING run going out on the queue. A run's RunDO is created only when something needs it: a run that
 * waited (delayed or queued, so someone may be watching) or ran before is told now, as before; a fresh run's
 * object is not created for its dispatch, and whoever needs it first (a subscriber, the hand-over's heartbeat
 * timer, the claim, a finish) makes it log the PENDING it missed. Its batch's object hears the item either way.
 */
export async function publishDispatch(deps: LiveDeps, run: Run): Promise<void> {
  if (run.delayUntil || run.queuedAt || run.attempt > 0) await publishStatus(deps, run);
  else if (run.batchId) await batchObject(deps, run.batchId).recordItemStatus(toFriendlyId("run", run.id), run.status);
}

/**
 * The repair of `publishStatus` for a final run whose RunDOs may never have heard of its end: the run's object
 * takes the final status whatever it holds, and its batch's object hears it (perhaps again: one more event).
 */
export async function republishFinalStatus(deps: LiveDeps, run: Run): Promise<void> {
  await Promise.all([
    runObject(deps, run).reconcile(run.id, run.status),
    run.batchId ? batchObject(deps, run.batchId).recordItemStatus(toFriendlyId("run", run.id), run.status) : undefined,
  ]);
}

/**
 * Wakes the run's engine at `at` (its RunDO alarm), for `reason`: a dispatched run's heartbeat deadline or
 * waitpoint timeout, which may be the first its object hears of the run.
 */
export async function wakeRunAt(deps: LiveDeps, run: Pick<Run, "id">, reason: WakeReason, at: number): Promise<void> {
  await runObject(deps, run).wakeAt(reason, at, run.id);
}

/** The live channel's part in "run finished": the run's objects hear the final status (again, on a repair). */
export const announceFinish =
  (deps: LiveDeps) =>
  ({ run, previous, repair }: RunFinished) =>
    repair ? republishFinalStatus(deps, run) : publishStatus(deps, run, undefined, previous);
