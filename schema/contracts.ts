/**
 * Messages and values that cross a process boundary (Worker ↔ queue ↔ executor), validated on both sides.
 * No database or runtime imports here: the executor and the Worker both load this file.
 */
import * as z from "./zod.ts";
import { waitpointViewSchema } from "./live.ts";
import { runStatusSchema } from "./run-states.ts";
import { STORABLE, isStorableJson, json, text } from "./storable.ts";

export const BATCH_STATUSES = ["PENDING", "COMPLETED", "ABORTED"] as const;
export const STEP_STATUSES = ["PASSED", "FAILED", "SKIPPED"] as const;

/** What a dispatch can carry: the public tasks, and `spec-suite`, the setup run of a repository suite. */
export const TASKS = ["browser-case", "http-check", "spec-suite"] as const;
export const taskSchema = z.enum(TASKS);

/** The largest artifact (screenshot) an attempt may upload. */
export const MAX_ARTIFACT_BYTES = 5 * 1024 * 1024;
/** The largest Playwright trace (`.zip`) or video (`.webm`) a repository suite's test may upload. */
export const MAX_RECORDING_BYTES = 50 * 1024 * 1024;
/** Screenshots a case keeps from its `screenshot` steps; the attempt may upload these and its failure screenshot. */
export const MAX_STEP_SCREENSHOTS = 20;
export const MAX_ARTIFACTS_PER_ATTEMPT = MAX_STEP_SCREENSHOTS + 1;

/** One message on the `run-dispatch` queue: everything the executor needs to claim a run. */
export const dispatchMessageSchema = z.object({
  runId: z.string().check(z.minLength(1)),
  task: taskSchema,
  /** The attempt this dispatch is for: claiming it again (a redelivered message) is refused. */
  attempt: z.int().check(z.minimum(1)),
  /** Run-scoped bearer token for the executor's calls to /internal/runs/:runId/*. */
  token: z.string().check(z.minLength(1)),
  dispatchedAt: z.iso.datetime(),
});
export type DispatchMessage = z.infer<typeof dispatchMessageSchema>;

/** One step's result in an attempt, as the executor reports it and the store keeps it. */
export const stepReportSchema = z.strictObject({
  index: z.int().check(z.minimum(0), z.maximum(999)),
  action: text(50),
  label: z.nullish(text(300)),
  status: z.enum(STEP_STATUSES),
  durationMs: z.nullish(z.int().check(z.minimum(0))),
  error: z.nullish(text(10_000)),
  /** An artifact key this run's upload returned. */
  screenshotKey: z.nullish(text(300)),
});
export type StepReport = z.infer<typeof stepReportSchema>;

/** The end of an attempt (`/internal/runs/:runId/complete`). */
export const runCompletionSchema = z.strictObject({
  status: z.enum(["COMPLETED", "FAILED", "TIMED_OUT"]),
  output: z.optional(json),
  error: z.optional(z.looseObject({ message: text(10_000) }).check(z.refine(isStorableJson, STORABLE))),
  /** A failure worth another attempt (navigation error, crash), as opposed to an assertion. */
  retryable: z._default(z.boolean(), false),
  steps: z._default(z.array(stepReportSchema).check(z.maxLength(1_000)), []),
});
export type RunCompletion = z.infer<typeof runCompletionSchema>;

/** The Worker's answer to a claim and a completion: the run as the executor needs it. */
export const claimedRunSchema = z.object({
  id: z.string(),
  task: z.string(),
  status: runStatusSchema,
  payload: z.unknown(),
  attempt: z.int(),
  maxAttempts: z.int(),
});
export type ClaimedRun = z.infer<typeof claimedRunSchema>;

/** A token created for (or found by its idempotency key in) a run: its id and callback URL. */
export const createdTokenSchema = z.object({ id: z.string(), url: z.string(), isCached: z.boolean() });

/** The run after it asked to wait: WAITING (follow its live log from `seq`), or EXECUTING when all were done. */
export const waitAnswerSchema = z.object({
  status: runStatusSchema,
  seq: z.nullable(z.int()),
  waitpoints: z.array(waitpointViewSchema),
});

/** An uploaded artifact: the key a step report names, and its API path. */
export const uploadedArtifactSchema = z.object({ key: z.string(), url: z.string() });
