/** Request bodies and queries of the public HTTP API (DESIGN §8), validated at the Worker's edge. */
import * as z from "zod";
import { RUN_STATUSES } from "./contracts.ts";
import { durationSchema, pointInTimeSchema } from "./durations.ts";
import { repositorySchema } from "./github.ts";
import { caseSchema } from "./steps.ts";
import { STORABLE, isStorableJson, json, text } from "./storable.ts";

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

/** GitHub events a suite can be started by. */
export const SUITE_TRIGGERS = ["pull_request", "push", "deployment_status"] as const;
export type SuiteTrigger = (typeof SUITE_TRIGGERS)[number];


/** A suite's case: the case language, plus whether it runs (a disabled case is kept but skipped). */
const suiteCaseSchema = z.preprocess(
  (value) => {
    if (!value || typeof value !== "object" || Array.isArray(value)) return { case: value };
    const { enabled, ...rest } = value as Record<string, unknown>;
    return { enabled, case: rest };
  },
  z.object({ enabled: z.boolean().default(true), case: caseSchema }),
);

const suiteFields = {
  name: text(200),
  repository: repositorySchema,
  baseUrl: z.url({ protocol: /^https?$/ }).max(2_000),
  triggers: z.array(z.enum(SUITE_TRIGGERS)).max(SUITE_TRIGGERS.length).default(["pull_request"]),
  cases: z
    .array(suiteCaseSchema)
    .min(1)
    .max(200)
    .refine((cases) => new Set(cases.map((item) => item.case.name)).size === cases.length, "case names must be unique within a suite"),
};

export const createSuiteBodySchema = z.strictObject(suiteFields);
export type SuiteInput = z.infer<typeof createSuiteBodySchema>;
export const updateSuiteBodySchema = z
  .strictObject({ ...suiteFields, triggers: suiteFields.triggers.removeDefault() })
  .partial()
  .refine((patch) => Object.keys(patch).length > 0, "send at least one field to change");

export const startSuiteRunBodySchema = z.strictObject({
  sha: z.string().regex(/^[0-9a-f]{40}$/, "expected a 40-character commit SHA").optional(),
  ref: text(255).optional(),
  baseUrl: z.url({ protocol: /^https?$/ }).max(2_000).optional(),
});
