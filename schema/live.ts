/**
 * The live protocol (DESIGN §5): what a run's or batch's live socket sends, what its Durable Object logs, and
 * what the executor posts as step events. Written once here for the Worker (its objects, routes and pages)
 * and the executor, which follows its own run's socket while it waits.
 */
import { json, text } from "./storable.ts";
import { WAITPOINT_STATUSES, WAITPOINT_TYPES, runStatusSchema } from "./run-states.ts";
import * as z from "./zod.ts";

export const RUN_EVENT_TYPES = ["status", "step", "log", "waitpoint"] as const;
export type RunEventType = (typeof RUN_EVENT_TYPES)[number];

/** Why a run's object wakes its engine: a delay is over, a heartbeat is overdue, a waitpoint came due. */
export type WakeReason = "delay" | "heartbeat" | "waitpoints";

/**
 * Who holds a subscription: `full` (a secret key, or the executor holding the run) sees every event as logged;
 * `public` and `page` (a browser's token) see events without waitpoint outputs. A page token on a finished
 * subject gets its snapshot only.
 */
export type Audience = "full" | "public" | "page";

/** A waitpoint as the API, the executor's wait and a resume event show it. */
export const waitpointViewSchema = z.looseObject({
  id: z.string(),
  type: z.optional(z.enum(WAITPOINT_TYPES)),
  status: z.enum(WAITPOINT_STATUSES),
  output: z.unknown(),
  outputIsError: z.boolean(),
});
export type WaitpointView = z.infer<typeof waitpointViewSchema>;

/** One step starting or ending in the executor, as it posts it and a run page shows the running attempt. */
export const stepEventSchema = z.strictObject({
  index: z.int().check(z.minimum(0), z.maximum(999)),
  action: text(50),
  name: text(300),
  status: z.enum(["RUNNING", "PASSED", "FAILED"]),
  durationMs: z.optional(z.int().check(z.minimum(0))),
  error: z.optional(text(10_000)),
});
export type StepEvent = z.infer<typeof stepEventSchema>;

/**
 * A status change: a run's own (with what it waits on or resumed by, or `repaired` when the sweep told it
 * late), or one of a batch's items (`runId`).
 */
export const statusEventSchema = z.looseObject({
  status: runStatusSchema,
  runId: z.optional(z.string()),
  waitingOn: z.optional(z.array(z.string())),
  resumedBy: z.optional(z.array(waitpointViewSchema)),
  repaired: z.optional(z.boolean()),
});
export type StatusEvent = z.infer<typeof statusEventSchema>;

const freeform = z.record(z.string(), json);

const envelope = { seq: z.int(), at: z.string() };
export const runEventSchema = z.discriminatedUnion("type", [
  z.object({ ...envelope, type: z.literal("status"), data: statusEventSchema }),
  z.object({ ...envelope, type: z.literal("step"), data: stepEventSchema }),
  z.object({ ...envelope, type: z.literal("log"), data: freeform }),
  z.object({ ...envelope, type: z.literal("waitpoint"), data: freeform }),
]);
/** One logged event, numbered in its object's log. */
export type RunEvent = z.infer<typeof runEventSchema>;

/** What an object says first on a new subscription. */
export const snapshotSchema = z.object({
  /** The run's (or batch's) internal id. */
  runId: z.string(),
  status: runStatusSchema,
  lastSeq: z.int(),
});
export type RunSnapshot = z.infer<typeof snapshotSchema>;

/** Every message of a live socket: the snapshot, then events. */
export const liveMessageSchema = z.union([
  z.object({ type: z.literal("snapshot"), ...snapshotSchema.shape }),
  runEventSchema,
]);
export type LiveMessage = z.infer<typeof liveMessageSchema>;

/** The executor's events for its run's live log (`/internal/runs/:runId/events`). */
export const runEventsSchema = z.strictObject({
  events: z
    .array(
      z.discriminatedUnion("type", [
        z.strictObject({ type: z.literal("step"), data: stepEventSchema }),
        z.strictObject({ type: z.literal("log"), data: freeform }),
      ]),
    )
    .check(z.minLength(1), z.maxLength(100)),
});
export type PostedEvent = z.infer<typeof runEventsSchema>["events"][number];
