/** Request bodies and queries of the public HTTP API (DESIGN §8), validated at the Worker's edge. */
import * as z from "./zod.ts";
import { RUN_STATUSES } from "./run-states.ts";
import { durationSchema, pointInTimeSchema } from "./durations.ts";
import { repositorySchema } from "./github.ts";
import { repositorySourceSchema, suiteSecretsPatchSchema, suiteSecretsSchema } from "./spec-suites.ts";
import { caseSchema } from "./steps.ts";
import { STORABLE, isStorableJson, json, text } from "./storable.ts";

const MAX_TAGS = 10;
const tag = text(128);
const friendlyRunId = z.string().check(z.minLength(1), z.maxLength(100));
const tags = z.array(tag).check(z.maxLength(MAX_TAGS));

export const triggerOptionsSchema = z.strictObject({
  idempotencyKey: z.optional(text(256)),
  idempotencyKeyTTL: z.optional(durationSchema),
  delay: z.optional(pointInTimeSchema),
  ttl: z.optional(durationSchema),
  tags: z.optional(tags),
  metadata: z.optional(z.record(z.string(), z.unknown()).check(z.refine(isStorableJson, STORABLE))),
  maxAttempts: z.optional(z.int().check(z.minimum(1), z.maximum(10))),
  parentRunId: z.optional(friendlyRunId),
});
export type TriggerOptions = z.infer<typeof triggerOptionsSchema>;

export const triggerBodySchema = z.strictObject({
  payload: z.optional(json),
  options: z.optional(triggerOptionsSchema),
});

export const MAX_BATCH_ITEMS = 500;

export const batchTriggerBodySchema = z.strictObject({
  items: z
    .array(
      z.strictObject({
        task: text(100),
        payload: z.optional(json),
        options: z.optional(z.omit(triggerOptionsSchema, { parentRunId: true })),
      }),
    )
    .check(z.minLength(1), z.maxLength(MAX_BATCH_ITEMS)),
  parentRunId: z.optional(friendlyRunId),
  idempotencyKey: z.optional(text(256)),
});

const csv = <T extends z.ZodMiniType<unknown, string>>(item: T) =>
  z.pipe(
    z.pipe(
      z.string(),
      z.transform((value: string) => value.split(",").filter(Boolean)),
    ),
    z.array(item).check(z.maxLength(20)),
  );

export const listRunsQuerySchema = z.strictObject({
  status: z.optional(csv(z.enum(RUN_STATUSES))),
  task: z.optional(text(100)),
  tag: z.optional(tag),
  batchId: z.optional(z.string().check(z.minLength(1), z.maxLength(100))),
  limit: z._default(z.coerce.number().check(z.int(), z.minimum(1), z.maximum(100)), 25),
  cursor: z.optional(z.string().check(z.minLength(1), z.maxLength(200))),
});

export const createTokenBodySchema = z.strictObject({
  timeout: z.optional(pointInTimeSchema),
  idempotencyKey: z.optional(text(256)),
  tags: z.optional(tags),
});

const waitRefs = (item: z.ZodMiniString<string>) => z.optional(z.array(item).check(z.minLength(1), z.maxLength(20)));

/** What an executing run waits on (the executor's `/internal/runs/:id/wait`): at least one of them. */
export const waitBodySchema = z
  .strictObject({
    tokens: waitRefs(z.string().check(z.minLength(1), z.maxLength(100))),
    until: z.optional(pointInTimeSchema),
    runs: waitRefs(friendlyRunId),
    batch: z.optional(z.string().check(z.minLength(1), z.maxLength(100))),
  })
  .check(
    z.refine(
      (body) => Object.values(body).some((value) => value !== undefined),
      "Wait on tokens, until, runs or a batch",
    ),
  );

export const completeTokenBodySchema = z.strictObject({ data: z.optional(json) });

/** A callback's body is the token's output, whatever JSON it is (as long as Postgres can store it). */
export const callbackBodySchema = json;

/** GitHub events a suite can be started by. */
export const SUITE_TRIGGERS = ["pull_request", "push", "deployment_status"] as const;
export type SuiteTrigger = (typeof SUITE_TRIGGERS)[number];

/** A suite's case: the case language, plus whether it runs (a disabled case is kept but skipped). */
const suiteCaseSchema = z.pipe(
  z.transform((value: unknown) => {
    if (!value || typeof value !== "object" || Array.isArray(value)) return { case: value };
    const { enabled, ...rest } = value as Record<string, unknown>;
    return { enabled, case: rest };
  }),
  z.object({ enabled: z._default(z.boolean(), true), case: caseSchema }),
);

const webUrl = z.url({ protocol: /^https?$/ }).check(z.maxLength(2_000));
/** Without its default: a suite update changes the triggers only when it names them. */
const triggers = z.array(z.enum(SUITE_TRIGGERS)).check(z.maxLength(SUITE_TRIGGERS.length));

const suiteFields = {
  name: text(200),
  repository: repositorySchema,
  baseUrl: webUrl,
  triggers: z._default(triggers, ["pull_request"]),
  /** The repository's own Playwright tests, described by a file in it (instead of `cases`). */
  source: z.optional(repositorySourceSchema),
  /** Write-only: NAME → value, given to the repository's tests as environment variables. */
  secrets: z.optional(suiteSecretsSchema),
  cases: z.array(suiteCaseSchema).check(
    z.minLength(1),
    z.maxLength(200),
    z.refine(
      (cases) => new Set(cases.map((item) => item.case.name)).size === cases.length,
      "case names must be unique within a suite",
    ),
  ),
};

export const createSuiteBodySchema = z.strictObject({ ...suiteFields, cases: z.optional(suiteFields.cases) }).check(
  z.refine((suite) => (suite.cases === undefined) !== (suite.source === undefined), {
    message: "send either cases (JSON steps) or source (the repository's Playwright tests), not both",
    path: ["cases"],
  }),
);
export type SuiteInput = z.infer<typeof createSuiteBodySchema>;
export const updateSuiteBodySchema = z
  .partial(z.strictObject({ ...suiteFields, triggers, secrets: suiteSecretsPatchSchema }))
  .check(z.refine((patch) => Object.keys(patch).length > 0, "send at least one field to change"));

export type UpdateSuiteInput = z.infer<typeof updateSuiteBodySchema>;

export const startSuiteRunBodySchema = z.strictObject({
  sha: z.optional(z.string().check(z.regex(/^[0-9a-f]{40}$/, "expected a 40-character commit SHA"))),
  ref: z.optional(text(255)),
  baseUrl: z.optional(webUrl),
});
