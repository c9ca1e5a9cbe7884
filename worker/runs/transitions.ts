/**
 * The one state-transition table of a run (DESIGN §2). Every status change is a compare-and-set from the
 * statuses this table allows into the target, so two writers racing cannot make an illegal move.
 */
import type { RunStatus } from "../../schema/contracts.ts";

const TRANSITIONS: Record<RunStatus, readonly RunStatus[]> = {
  DELAYED: ["QUEUED", "PENDING", "CANCELED", "EXPIRED"],
  QUEUED: ["PENDING", "CANCELED", "EXPIRED"],
  PENDING: ["DEQUEUED", "EXECUTING", "CANCELED", "EXPIRED", "SYSTEM_FAILURE"],
  DEQUEUED: ["EXECUTING", "PENDING", "CANCELED", "EXPIRED", "SYSTEM_FAILURE"],
  EXECUTING: ["WAITING", "PENDING", "COMPLETED", "FAILED", "CANCELED", "CRASHED", "SYSTEM_FAILURE", "TIMED_OUT"],
  WAITING: ["EXECUTING", "PENDING", "COMPLETED", "FAILED", "CANCELED", "CRASHED", "SYSTEM_FAILURE", "TIMED_OUT"],
  COMPLETED: [],
  FAILED: [],
  CANCELED: [],
  CRASHED: [],
  SYSTEM_FAILURE: [],
  EXPIRED: [],
  TIMED_OUT: [],
};

const ALL = Object.keys(TRANSITIONS) as RunStatus[];

export const canTransition = (from: RunStatus, to: RunStatus) => TRANSITIONS[from].includes(to);

/** The statuses a run may be in for a move to `to`: the guard of its compare-and-set. */
export const sourcesOf = (to: RunStatus): RunStatus[] => ALL.filter((from) => canTransition(from, to));

export const isFinal = (status: RunStatus) => TRANSITIONS[status].length === 0;

/** Runs holding one of their organisation's concurrency slots. */
export const ACTIVE_STATUSES: readonly RunStatus[] = ["PENDING", "DEQUEUED", "EXECUTING", "WAITING"];

/** Final and unsuccessful: the run gives its idempotency key back, so the same key may trigger again. */
export const FAILED_STATUSES: readonly RunStatus[] = ["FAILED", "CRASHED", "SYSTEM_FAILURE", "EXPIRED", "TIMED_OUT"];

export const releasesIdempotencyKey = (status: RunStatus) => FAILED_STATUSES.includes(status);
