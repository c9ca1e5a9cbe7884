/**
 * The run vocabulary (DESIGN §2): its statuses and the one state-transition table, shared by the Worker (its
 * engine, stores, Durable Objects and pages) and the executor. Every status change is a compare-and-set from
 * the statuses this table allows into the target, so two writers racing cannot make an illegal move.
 */
import * as z from "./zod.ts";

export const RUN_STATUSES = [
  "DELAYED",
  "QUEUED",
  "PENDING",
  "DEQUEUED",
  "EXECUTING",
  "WAITING",
  "COMPLETED",
  "FAILED",
  "CANCELED",
  "CRASHED",
  "SYSTEM_FAILURE",
  "EXPIRED",
  "TIMED_OUT",
] as const;
export const runStatusSchema = z.enum(RUN_STATUSES);
export type RunStatus = z.infer<typeof runStatusSchema>;

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

export const canTransition = (from: RunStatus, to: RunStatus) => TRANSITIONS[from].includes(to);

/** The statuses a run may be in for a move to `to`: the guard of its compare-and-set. */
export const sourcesOf = (to: RunStatus): RunStatus[] => RUN_STATUSES.filter((from) => canTransition(from, to));

/** Final: nothing follows (a status string from elsewhere, e.g. a live event, may be asked too). */
export const isFinal = (status: string): boolean => TRANSITIONS[status as RunStatus]?.length === 0;

/** Runs holding one of their organisation's concurrency slots. */
export const ACTIVE_STATUSES: readonly RunStatus[] = ["PENDING", "DEQUEUED", "EXECUTING", "WAITING"];

/** Not started yet: waiting for their time, their slot, or an executor to pick them up. */
export const NOT_STARTED_STATUSES: readonly RunStatus[] = ["DELAYED", "QUEUED", "PENDING", "DEQUEUED"];

/** Final and unsuccessful: the run gives its idempotency key back, so the same key may trigger again. */
export const FAILED_STATUSES: readonly RunStatus[] = ["FAILED", "CRASHED", "SYSTEM_FAILURE", "EXPIRED", "TIMED_OUT"];

export const WAITPOINT_TYPES = ["TOKEN", "DATETIME", "RUN"] as const;
export const WAITPOINT_STATUSES = ["WAITING", "COMPLETED", "TIMED_OUT"] as const;

export const releasesIdempotencyKey = (status: RunStatus) => FAILED_STATUSES.includes(status);
