/** Request bodies and queries of the public HTTP API (DESIGN §8), validated at the Worker's edge. */
import * as z from "zod";
import { RUN_STATUSES } from "./contracts.ts";
import { durationSchema, pointInTimeSchema } from "./durations.ts";

const MAX_TAGS = 10;
const tag = z.string().min(1).max(128);
const friendlyRunId = z.string().min(1).max(100);

export const triggerOptionsSchema = z.strictObject({
  idempotencyKey: z.string().min(1).max(256).optional(),
  idempotencyKeyTTL: durationSchema.optional(),
  delay: pointInTimeSchema.optional(),
  ttl: durationSchema.optional(),
  tags: z.array(tag).max(MAX_TAGS).optional(),
  metadata: z.record(z.string(), z.unknown()).optional(),
  maxAttempts: z.int().min(1).max(10).optional(),
  parentRunId: friendlyRunId.optional(),
});
export type TriggerOptions = z.infer<typeof triggerOptionsSchema>;

export const triggerBodySchema = z.strictObject({
  payload: z.unknown().optional(),
  options: triggerOptionsSchema.optional(),
});

export const MAX_BATCH_ITEMS = 500;

export const batchTriggerBodySchema = z.strictObject({
  items: z
    .array(
      z.strictObject({
        task: z.string().min(1).max(100),
        payload: z.unknown().optional(),
        options: triggerOptionsSchema.omit({ parentRunId: true }).optional(),
      }),
    )
    .min(1)
    .max(MAX_BATCH_ITEMS),
  parentRunId: friendlyRunId.optional(),
  idempotencyKey: z.string().min(1).max(256).optional(),
});

const csv = <T extends z.ZodType<unknown, string>>(item: T) =>
  z
    .string()
    .transform((value) => value.split(",").filter(Boolean))
    .pipe(z.array(item).max(20));

export const listRunsQuerySchema = z.strictObject({
  status: csv(z.enum(RUN_STATUSES)).optional(),
  task: z.string().min(1).max(100).optional(),
  tag: tag.optional(),
  batchId: z.string().min(1).max(100).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(25),
  cursor: z.string().min(1).max(200).optional(),
});
