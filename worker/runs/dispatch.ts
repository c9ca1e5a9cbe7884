/**
 * Phase 2 of creating a run (DESIGN §2.2): mint the run-scoped executor token, tell the run's RunDO (which
 * starts its live log, or its alarm for a DELAYED run) and send one message on run-dispatch. Only after the record committed; if a step fails, the run stays
 * PENDING without `dispatchedAt` and the sweep dispatches it again, so a run is never lost.
 */
import type { DispatchMessage } from "../../schema/contracts.ts";
import { toFriendlyId } from "../store/ids.ts";
import type { Run } from "../store/run-store.ts";
import type { EngineDeps } from "./deps.ts";
import { publishStatus } from "./live.ts";
import { signToken } from "./tokens.ts";

/** Long enough for the longest case with retries and waits; the token only ever opens this one run. */
const EXECUTOR_TOKEN_TTL_SECONDS = 24 * 3_600;

export async function buildAndDispatchRun(deps: EngineDeps, run: Run): Promise<void> {
  if (run.status === "DELAYED") {
    await publishStatus(deps, run);
    return;
  }
  if (run.status !== "PENDING") return;

  const token = await signToken(
    deps.config.SIGNING_SECRET,
    { scope: "executor", sub: toFriendlyId("run", run.id), env: run.environmentId },
    EXECUTOR_TOKEN_TTL_SECONDS,
  );
  const dispatchedAt = new Date();
  const message: DispatchMessage = {
    runId: run.id,
    task: run.task as DispatchMessage["task"],
    attempt: run.attempt + 1,
    token,
    dispatchedAt: dispatchedAt.toISOString(),
  };
  await Promise.all([publishStatus(deps, run), deps.bindings.RUN_DISPATCH.send(message)]);
  await deps.runs.updateRun(run.id, { dispatchedAt }, ["PENDING"]);
}

/** Dispatch without failing the caller: the record is safe, and the sweep retries what did not go out. */
export async function dispatchOrLeaveForSweep(deps: EngineDeps, runs: Run[]): Promise<void> {
  const results = await Promise.allSettled(runs.map((run) => buildAndDispatchRun(deps, run)));
  for (const [index, result] of results.entries()) {
    if (result.status === "rejected") console.warn(`dispatch of ${runs[index]!.id} deferred to the sweep:`, result.reason);
  }
}

/** A retryable failure: the run keeps its slot, goes back to PENDING and is dispatched again. */
export async function redispatchForRetry(deps: EngineDeps, run: Run): Promise<Run | undefined> {
  const pending = await deps.runs.updateRun(run.id, { status: "PENDING", dispatchedAt: null }, ["EXECUTING", "WAITING"]);
  if (pending) await dispatchOrLeaveForSweep(deps, [pending]);
  return pending;
}

/** A run handed to an executor that never claimed it (shut down, died, lost it): back to PENDING and out again. */
export async function redispatchUnstarted(deps: EngineDeps, run: Run): Promise<Run | undefined> {
  const pending = await deps.runs.updateRun(run.id, { status: "PENDING", dispatchedAt: null }, ["DEQUEUED"], run.attempt);
  if (pending) await dispatchOrLeaveForSweep(deps, [pending]);
  return pending;
}
