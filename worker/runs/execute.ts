/**
 * A run in an executor's hands (DESIGN §2.4): the claim (one per attempt, so a redelivered message never
 * runs a case twice), heartbeats, and the watchdog that retries or crashes a run whose heartbeat stopped.
 * The watchdog is the run's RunDO alarm, pushed back by every heartbeat.
 */
import type { RunStatus } from "../../schema/contracts.ts";
import type { Run } from "../store/run-store.ts";
import type { EngineDeps } from "./deps.ts";
import { redispatchForRetry } from "./dispatch.ts";
import { finishRun } from "./finish.ts";
import { publishStatus, wakeRunAt } from "./live.ts";

/** How often a claimer sends a heartbeat; the Worker's HEARTBEAT_TIMEOUT_MS (30 s) is the deadline. */
export const HEARTBEAT_INTERVAL_MS = 10_000;

/** A claimed run is in its executor's hands, running or waiting: no heartbeat means the executor is gone. */
export const HELD: readonly RunStatus[] = ["EXECUTING", "WAITING"];

const watch = (deps: EngineDeps, run: Run) => wakeRunAt(deps, run, "heartbeat", Date.now() + deps.config.HEARTBEAT_TIMEOUT_MS);

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

/**
 * Keeps a claimed run alive (EXECUTING, or WAITING in the executor that holds it); undefined when it is no
 * longer (canceled, taken over): the claimer stops.
 */
export async function recordHeartbeat(deps: EngineDeps, run: Run): Promise<Run | undefined> {
  const alive = await deps.runs.updateRun(run.id, { lastHeartbeatAt: new Date() }, HELD, run.attempt);
  if (alive) await watch(deps, alive);
  return alive;
}

/** The watchdog: when to look again, or undefined once the run is no longer watched. */
export async function checkHeartbeat(deps: EngineDeps, run: Run, now = Date.now()): Promise<number | undefined> {
  if (!HELD.includes(run.status)) return undefined;
  const timeout = deps.config.HEARTBEAT_TIMEOUT_MS;
  const deadline = (run.lastHeartbeatAt ?? run.startedAt ?? run.createdAt).getTime() + timeout;
  if (deadline > now) return deadline;
  if (run.attempt < run.maxAttempts) await redispatchForRetry(deps, run);
  else await finishRun(deps, run, "CRASHED", { error: { message: `No heartbeat for ${timeout / 1000} s (attempt ${run.attempt})` } });
  return undefined;
}
