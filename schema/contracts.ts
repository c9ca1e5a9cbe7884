/**
 * Messages and values that cross a process boundary (Worker ↔ queue ↔ executor), validated on both sides.
 * No database or runtime imports here: the executor and the Worker both load this file.
 */
import * as z from "zod";

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

export const BATCH_STATUSES = ["PENDING", "COMPLETED", "ABORTED"] as const;
export const WAITPOINT_TYPES = ["TOKEN", "DATETIME", "RUN"] as const;
export const WAITPOINT_STATUSES = ["WAITING", "COMPLETED", "TIMED_OUT"] as const;
export const STEP_STATUSES = ["PASSED", "FAILED", "SKIPPED"] as const;

export const TASKS = ["browser-case", "http-check"] as const;
export const taskSchema = z.enum(TASKS);

/** One message on the `run-dispatch` queue: everything the executor needs to claim a run. */
export const dispatchMessageSchema = z.object({
  runId: z.string().min(1),
  task: taskSchema,
  /** The attempt this dispatch is for: claiming it again (a redelivered message) is refused. */
  attempt: z.int().min(1),
  /** Run-scoped bearer token for the executor's calls to /internal/runs/:runId/*. */
  token: z.string().min(1),
  dispatchedAt: z.iso.datetime(),
});
export type DispatchMessage = z.infer<typeof dispatchMessageSchema>;
