/**
 * Messages and values that cross a process boundary (Worker ↔ queue ↔ executor), validated on both sides.
 * No database or runtime imports here: the executor and the Worker both load this file.
 */
import * as z from "zod";
import { STORABLE, isStorableJson, json, text } from "./storable.ts";

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

/** The largest artifact (screenshot) an attempt may upload. */
export const MAX_ARTIFACT_BYTES = 5 * 1024 * 1024;
/** Screenshots a case keeps from its `screenshot` steps; the attempt may upload these and its failure screenshot. */
export const MAX_STEP_SCREENSHOTS = 20;
export const MAX_ARTIFACTS_PER_ATTEMPT = MAX_STEP_SCREENSHOTS + 1;

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

/** The executor's events for a run's live log (`/internal/runs/:runId/events`). */
export const runEventsSchema = z.strictObject({
  events: z
    .array(z.strictObject({ type: z.enum(["step", "log"]), data: z.record(z.string(), json) }))
    .min(1)
    .max(100),
});

/** One step's result in an attempt, as the executor reports it and the store keeps it. */
export const stepReportSchema = z.strictObject({
  index: z.int().min(0).max(999),
  action: text(50),
  label: text(300).nullish(),
  status: z.enum(STEP_STATUSES),
  durationMs: z.int().min(0).nullish(),
  error: text(10_000).nullish(),
  /** An artifact key this run's upload returned. */
  screenshotKey: text(300).nullish(),
});
export type StepReport = z.infer<typeof stepReportSchema>;

/** The end of an attempt (`/internal/runs/:runId/complete`). */
export const runCompletionSchema = z.strictObject({
  status: z.enum(["COMPLETED", "FAILED", "TIMED_OUT"]),
  output: json.optional(),
  error: z.looseObject({ message: text(10_000) }).refine(isStorableJson, STORABLE).optional(),
  /** A failure worth another attempt (navigation error, crash), as opposed to an assertion. */
  retryable: z.boolean().default(false),
  steps: z.array(stepReportSchema).max(1_000).default([]),
});
export type RunCompletion = z.infer<typeof runCompletionSchema>;
