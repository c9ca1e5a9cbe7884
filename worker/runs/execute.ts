/**
 * A run in an executor's hands (DESIGN §2.4): the hand-over, the claim (one per attempt, so a redelivered
 * message never runs a case twice), heartbeats, and the watchdog that re-dispatches, retries or crashes a
 * run whose heartbeat stopped.
 * The watchdog is the run's RunDO alarm, pushed back by every heartbeat.
 */
import type { RunStatus } from "../../schema/run-states.ts";
import type { Run } from "../store/run-store.ts";
import type { EngineDeps } from "./deps.ts";
import { redispatchForRetry, redispatchUnstarted } from "./dispatch.ts";
import { finishRun } from "./finish.ts";
import { publishStatus, wakeRunAt } from "./live.ts";

/** How often a claimer sends a heartbeat; the Worker's HEARTBEAT_TIMEOUT_MS (30 s) is the deadline. */
export const HEARTBEAT_INTERVAL_MS = 10_000;

/** A claimed run: running or waiting in the executor that claimed it. */
export const HELD: readonly RunStatus[] = ["EXECUTING", "WAITING"];

/**
 * Runs in an executor's hands, claimed or still in its backlog (DEQUEUED): the executor heartbeats them all,
 * so one that died with them is noticed within the heartbeat deadline.
 */
const IN_EXECUTOR: readonly RunStatus[] = ["DEQUEUED", ...HELD];

const watch = (deps: EngineDeps, run: Run) =>
  wakeRunAt(deps, run, "heartbeat", Date.now() + deps.config.HEARTBEAT_TIMEOUT_MS);

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
  if (claimed) await Promise.all([publishStatus(deps, claimed, undefined, run.status), watch(deps, claimed)]);
  return claimed;
}

/** The executor accepted the job: DEQUEUED, and watched from now on. */
export async function handOver(deps: EngineDeps, run: Run): Promise<Run | undefined> {
  const handed = await deps.runs.updateRun(
    run.id,
    { status: "DEQUEUED", lastHeartbeatAt: new Date() },
    ["PENDING"],
    run.attempt,
  );
  if (handed) await watch(deps, handed);
  return handed;
}

/** Dispatched for its next attempt and not claimed yet: the store still holds the attempt before. */
const UNCLAIMED: readonly RunStatus[] = ["PENDING", "DEQUEUED"];

/**
 * Whether the executor of `attempt` (its token's) still holds the run: the attempt it dispatched while
 * unclaimed, the attempt claimed while it runs. An attempt superseded by a later claim or retry does not.
 */
export const holdsAttempt = (run: Run, attempt: number) =>
  run.attempt === (UNCLAIMED.includes(run.status) ? attempt - 1 : attempt);

/**
 * Keeps a run in the hands of the executor of `attempt` alive (in its backlog, running, or waiting); undefined
 * when it is no longer (canceled, taken over by a later attempt): the executor lets it go.
 */
export async function recordHeartbeat(deps: EngineDeps, run: Run, attempt: number): Promise<Run | undefined> {
  const now = { lastHeartbeatAt: new Date() };
  const alive =
    run.status === "DEQUEUED"
      ? await deps.runs.updateRun(run.id, now, ["DEQUEUED"], attempt - 1)
      : await deps.runs.updateRun(run.id, now, HELD, attempt);
  if (alive) await watch(deps, alive);
  return alive;
}

/**
 * The watchdog: when to look again, or undefined once the run is no longer watched. A silent executor's
 * unstarted job goes out again as it was; a started attempt is retried, or CRASHED after maxAttempts.
 */
export async function checkHeartbeat(deps: EngineDeps, run: Run, now = Date.now()): Promise<number | undefined> {
  if (!IN_EXECUTOR.includes(run.status)) return undefined;
  const timeout = deps.config.HEARTBEAT_TIMEOUT_MS;
  const deadline = (run.lastHeartbeatAt ?? run.startedAt ?? run.createdAt).getTime() + timeout;
  if (deadline > now) return deadline;
  if (run.status === "DEQUEUED") await redispatchUnstarted(deps, run);
  else if (run.attempt < run.maxAttempts) await redispatchForRetry(deps, run);
  else {
    const error = { message: `No heartbeat for ${timeout / 1000} s (attempt ${run.attempt})` };
    await finishRun(deps, run, "CRASHED", { error }, run.attempt);
  }
  return undefined;
}
