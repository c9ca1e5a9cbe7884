/** Request bodies and queries of the public HTTP API (DESIGN §8), validated at the Worker's edge. */
import * as z from "zod";
import { RUN_STATUSES } from "./contracts.ts";
import { durationSchema, pointInTimeSchema } from "./durations.ts";

/**
 * Postgres stores neither NUL characters nor unpaired surrogates (text or jsonb), and refuses very deep
 * jsonb: refuse them up front, as a 422 rather than a database error.
 */
const isStorableText = (text: string) => !text.includes("\u0000") && text.isWellFormed();
const MAX_JSON_DEPTH = 64;
const STORABLE = { message: `text may not contain NUL (\\u0000) or unpaired surrogates, nor nest deeper than ${MAX_JSON_DEPTH} levels` };

function isStorableJson(value: unknown, depth = 0): boolean {
  if (typeof value === "string") return isStorableText(value);
  if (!value || typeof value !== "object") return true;
  if (depth >= MAX_JSON_DEPTH) return false;
  if (Array.isArray(value)) return value.every((item) => isStorableJson(item, depth + 1));
  return Object.entries(value).every(([key, item]) => isStorableText(key) && isStorableJson(item, depth + 1));
}

const text = (max: number) => z.string().min(1).max(max).refine(isStorableText, STORABLE);
const json = z.unknown().refine(isStorableJson, STORABLE);

const MAX_TAGS = 10;
const tag = text(128);
const friendlyRunId = z.string().min(1).max(100);

export const triggerOptionsSchema = z.strictObject({
  idempotencyKey: text(256).optional(),
  idempotencyKeyTTL: durationSchema.optional(),
  delay: pointInTimeSchema.optional(),
  ttl: durationSchema.optional(),
  tags: z.array(tag).max(MAX_TAGS).optional(),
  metadata: z.record(z.string(), z.unknown()).refine(isStorableJson, STORABLE).optional(),
  maxAttempts: z.int().min(1).max(10).optional(),
  parentRunId: friendlyRunId.optional(),
});
export type TriggerOptions = z.infer<typeof triggerOptionsSchema>;

export const triggerBodySchema = z.strictObject({
  payload: json.optional(),
  options: triggerOptionsSchema.optional(),
});

export const MAX_BATCH_ITEMS = 500;

export const batchTriggerBodySchema = z.strictObject({
  items: z
    .array(
      z.strictObject({
        task: text(100),
        payload: json.optional(),
        options: triggerOptionsSchema.omit({ parentRunId: true }).optional(),
      }),
    )
    .min(1)
    .max(MAX_BATCH_ITEMS),
  parentRunId: friendlyRunId.optional(),
  idempotencyKey: text(256).optional(),
});

const csv = <T extends z.ZodType<unknown, string>>(item: T) =>
  z
    .string()
    .transform((value) => value.split(",").filter(Boolean))
    .pipe(z.array(item).max(20));

export const listRunsQuerySchema = z.strictObject({
  status: csv(z.enum(RUN_STATUSES)).optional(),
  task: text(100).optional(),
  tag: tag.optional(),
  batchId: z.string().min(1).max(100).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(25),
  cursor: z.string().min(1).max(200).optional(),
});

export const createTokenBodySchema = z.strictObject({
  timeout: pointInTimeSchema.optional(),
  idempotencyKey: text(256).optional(),
  tags: z.array(tag).max(MAX_TAGS).optional(),
});

/** What an executing run waits on (the executor's `/internal/runs/:id/wait`): at least one of them. */
export const waitBodySchema = z
  .strictObject({
    tokens: z.array(z.string().min(1).max(100)).min(1).max(20).optional(),
    until: pointInTimeSchema.optional(),
    runs: z.array(friendlyRunId).min(1).max(20).optional(),
    batch: z.string().min(1).max(100).optional(),
  })
  .refine((body) => Object.values(body).some((value) => value !== undefined), "Wait on tokens, until, runs or a batch");

export const completeTokenBodySchema = z.strictObject({ data: json.optional() });

/** A callback's body is the token's output, whatever JSON it is (as long as Postgres can store it). */
export const callbackBodySchema = json;
