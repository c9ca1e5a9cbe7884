/**
 * Phase 2 of creating a run (DESIGN §2.2): mint the attempt-scoped executor token, tell the RunDOs that need it
 * (a DELAYED run's alarm; see `publishDispatch`) and send a message per run on run-dispatch. Only after the record
 * committed; if a step fails, the run stays PENDING without `dispatchedAt` and the sweep dispatches it again,
 * so a run is never lost.
 */
import type { DispatchMessage } from "../../schema/contracts.ts";
import type { RunStatus } from "../../schema/run-states.ts";
import { toFriendlyId } from "../store/ids.ts";
import type { Run } from "../store/run-store.ts";
import type { EngineDeps } from "./deps.ts";
import { publishDispatch, publishStatus } from "./live.ts";
import { mintExecutorToken } from "./tokens.ts";

/** A Queue's sendBatch takes at most this many messages. */
const QUEUE_BATCH_LIMIT = 100;

async function dispatchMessage(deps: EngineDeps, run: Run, dispatchedAt: Date): Promise<DispatchMessage> {
  const attempt = run.attempt + 1;
  const friendlyId = toFriendlyId("run", run.id);
  return {
    runId: run.id,
    task: run.task as DispatchMessage["task"],
    attempt,
    token: await mintExecutorToken(deps.config.SIGNING_SECRET, run.environmentId, friendlyId, attempt),
    dispatchedAt: dispatchedAt.toISOString(),
  };
}

/** The runs whose `results` fulfilled; each rejected one is left for the sweep, and says so. */
function fulfilled(runs: Run[], results: PromiseSettledResult<unknown>[]): Run[] {
  return runs.filter((run, index) => {
    const result = results[index]!;
    if (result.status === "rejected") console.warn(`dispatch of ${run.id} deferred to the sweep:`, result.reason);
    return result.status === "fulfilled";
  });
}

/**
 * Dispatches the PENDING runs together (a batch's items, a suite run's cases): their messages go out with
 * `sendBatch` and one statement per store marks them dispatched, so a batch holds one connection per database
 * whatever its size. DELAYED runs only have their RunDO alarm set. Never fails the caller: the record is safe.
 * A run whose RunDOs were not told is left unmarked, and every run is when a send or the mark fails; the sweep
 * dispatches those again (a message that did go out is then sent twice, and the executor's claim is fenced by
 * attempt). Returns the runs marked dispatched.
 */
export async function dispatchOrLeaveForSweep(deps: EngineDeps, runs: Run[]): Promise<Run[]> {
  const delayed = runs.filter((run) => run.status === "DELAYED");
  fulfilled(delayed, await Promise.allSettled(delayed.map((run) => publishStatus(deps, run))));
  const pending = runs.filter((run) => run.status === "PENDING");
  if (pending.length === 0) return [];
  try {
    const dispatchedAt = new Date();
    const messages = await Promise.all(pending.map((run) => dispatchMessage(deps, run, dispatchedAt)));
    const sends = Array.from({ length: Math.ceil(messages.length / QUEUE_BATCH_LIMIT) }, (_, chunk) =>
      messages.slice(chunk * QUEUE_BATCH_LIMIT, (chunk + 1) * QUEUE_BATCH_LIMIT).map((body) => ({ body })),
    );
    const [published] = await Promise.all([
      Promise.allSettled(pending.map((run) => publishDispatch(deps, run))),
      Promise.all(sends.map((batch) => deps.queue.sendBatch(batch))),
    ]);
    const told = fulfilled(pending, published).map((run) => run.id);
    return await deps.runs.markDispatched(told, dispatchedAt);
  } catch (error) {
    console.warn(`dispatch of ${pending.map((run) => run.id).join(", ")} deferred to the sweep:`, error);
    return [];
  }
}

/** Back to PENDING from one of `from` at the run's attempt (compare-and-set), and out again; undefined if moved on. */
async function redispatchFrom(deps: EngineDeps, run: Run, from: RunStatus[]): Promise<Run | undefined> {
  const pending = await deps.runs.updateRun(run.id, { status: "PENDING", dispatchedAt: null }, from, run.attempt);
  if (pending) await dispatchOrLeaveForSweep(deps, [pending]);
  return pending;
}

/** A retryable failure of `run.attempt`: the run keeps its slot, goes back to PENDING and is dispatched again. */
export const redispatchForRetry = (deps: EngineDeps, run: Run) => redispatchFrom(deps, run, ["EXECUTING", "WAITING"]);

/** A run handed to an executor that never claimed it (shut down, died, lost it): back to PENDING and out again. */
export const redispatchUnstarted = (deps: EngineDeps, run: Run) => redispatchFrom(deps, run, ["DEQUEUED"]);
