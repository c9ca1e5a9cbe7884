/**
 * Phase 2 of creating a run (DESIGN §2.2): mint the attempt-scoped executor token, tell the RunDOs that need it
 * (a DELAYED run's alarm; see `publishDispatch`) and send one message on run-dispatch. Only after the record
 * committed; if a step fails, the run stays PENDING without `dispatchedAt` and the sweep dispatches it again,
 * so a run is never lost.
 */
import type { DispatchMessage } from "../../schema/contracts.ts";
import { toFriendlyId } from "../store/ids.ts";
import type { Run } from "../store/run-store.ts";
import type { EngineDeps } from "./deps.ts";
import { publishDispatch, publishStatus } from "./live.ts";
import { mintExecutorToken } from "./tokens.ts";

export async function buildAndDispatchRun(deps: EngineDeps, run: Run): Promise<void> {
  if (run.status === "DELAYED") {
    await publishStatus(deps, run);
    return;
  }
  if (run.status !== "PENDING") return;

  const attempt = run.attempt + 1;
  const friendlyId = toFriendlyId("run", run.id);
  const token = await mintExecutorToken(deps.config.SIGNING_SECRET, run.environmentId, friendlyId, attempt);
  const dispatchedAt = new Date();
  const message: DispatchMessage = {
    runId: run.id,
    task: run.task as DispatchMessage["task"],
    attempt,
    token,
    dispatchedAt: dispatchedAt.toISOString(),
  };
  await Promise.all([publishDispatch(deps, run), deps.queue.send(message)]);
  await deps.runs.updateRun(run.id, { dispatchedAt }, ["PENDING"]);
}

/** Dispatch without failing the caller: the record is safe, and the sweep retries what did not go out. */
export async function dispatchOrLeaveForSweep(deps: EngineDeps, runs: Run[]): Promise<void> {
  const results = await Promise.allSettled(runs.map((run) => buildAndDispatchRun(deps, run)));
  for (const [index, result] of results.entries()) {
    if (result.status === "rejected")
      console.warn(`dispatch of ${runs[index]!.id} deferred to the sweep:`, result.reason);
  }
}

/** A retryable failure of `run.attempt`: the run keeps its slot, goes back to PENDING and is dispatched again. */
export async function redispatchForRetry(deps: EngineDeps, run: Run): Promise<Run | undefined> {
  const patch = { status: "PENDING", dispatchedAt: null } as const;
  const pending = await deps.runs.updateRun(run.id, patch, ["EXECUTING", "WAITING"], run.attempt);
  if (pending) await dispatchOrLeaveForSweep(deps, [pending]);
  return pending;
}

/** A run handed to an executor that never claimed it (shut down, died, lost it): back to PENDING and out again. */
export async function redispatchUnstarted(deps: EngineDeps, run: Run): Promise<Run | undefined> {
  const pending = await deps.runs.updateRun(
    run.id,
    { status: "PENDING", dispatchedAt: null },
    ["DEQUEUED"],
    run.attempt,
  );
  if (pending) await dispatchOrLeaveForSweep(deps, [pending]);
  return pending;
}
