/**
 * A run in an executor's hands (DESIGN §2.4): the claim (one per attempt, so a redelivered message never
 * runs a case twice), heartbeats, and the watchdog that retries or crashes a run whose heartbeat stopped.
 * The watchdog is the run's RunDO alarm, pushed back by every heartbeat.
 */
import { toFriendlyId } from "../store/ids.ts";
import type { Run } from "../store/run-store.ts";
import type { EngineDeps } from "./deps.ts";
import { redispatchForRetry } from "./dispatch.ts";
import { finishRun } from "./finish.ts";
import { publishStatus } from "./live.ts";

/** An EXECUTING run that has not sent a heartbeat for this long is retried, or CRASHED after maxAttempts. */
export const HEARTBEAT_TIMEOUT_MS = 30_000;
/** How often a claimer sends one. */
export const HEARTBEAT_INTERVAL_MS = 10_000;

const watch = (deps: EngineDeps, run: Run) =>
  deps.bindings.RUN_DO.getByName(toFriendlyId("run", run.id)).watchUntil(Date.now() + HEARTBEAT_TIMEOUT_MS);

/** Claims attempt `attempt`; undefined when it was already claimed, or the run cannot start (canceled…). */
export async function claimRun(deps: EngineDeps, run: Run, attempt: number): Promise<Run | undefined> {
  if (attempt !== run.attempt + 1) return undefined;
  const now = new Date();
  const claimed = await deps.runs.updateRun(
    run.id,
    { status: "EXECUTING", attempt, startedAt: run.startedAt ?? now, lastHeartbeatAt: now },
    ["PENDING", "DEQUEUED"],
    run.attempt,
  );
  if (claimed) await Promise.all([publishStatus(deps, claimed), watch(deps, claimed)]);
  return claimed;
}

/** Keeps an EXECUTING run alive; undefined when it is no longer executing (canceled): the claimer stops. */
export async function recordHeartbeat(deps: EngineDeps, run: Run): Promise<Run | undefined> {
  const alive = await deps.runs.updateRun(run.id, { lastHeartbeatAt: new Date() }, ["EXECUTING"], run.attempt);
  if (alive) await watch(deps, alive);
  return alive;
}

/** The watchdog: when to look again, or undefined once the run is no longer watched. */
export async function checkHeartbeat(deps: EngineDeps, run: Run, now = Date.now()): Promise<number | undefined> {
  if (run.status !== "EXECUTING") return undefined;
  const deadline = (run.lastHeartbeatAt ?? run.startedAt ?? run.createdAt).getTime() + HEARTBEAT_TIMEOUT_MS;
  if (deadline > now) return deadline;
  if (run.attempt < run.maxAttempts) await redispatchForRetry(deps, run);
  else await finishRun(deps, run, "CRASHED", { error: { message: `No heartbeat for ${HEARTBEAT_TIMEOUT_MS / 1000} s (attempt ${run.attempt})` } });
  return undefined;
}
