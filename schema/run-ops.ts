/**
 * Run tables. They exist in BOTH databases (control-plane `legacy` and run-ops `new`) with the same shape;
 * a row lives in the store its id's shape names (DESIGN §3). Foreign keys only point within one store:
 * children, batch items and owned waitpoints are always co-located with their parent.
 */
import { sql } from "drizzle-orm";
import {
  type AnyPgColumn,
  bigint,
  boolean,
  index,
  integer,
  jsonb,
  pgEnum,
  pgTable,
  primaryKey,
  text,
  uniqueIndex,
} from "drizzle-orm/pg-core";
import { createdAt, id, instant } from "./columns.ts";
import { BATCH_STATUSES, STEP_STATUSES } from "./contracts.ts";
import { RUN_STATUSES, WAITPOINT_STATUSES, WAITPOINT_TYPES } from "./run-states.ts";

export const runStatus = pgEnum("run_status", RUN_STATUSES);
export const batchStatus = pgEnum("batch_status", BATCH_STATUSES);
export const waitpointType = pgEnum("waitpoint_type", WAITPOINT_TYPES);
export const waitpointStatus = pgEnum("waitpoint_status", WAITPOINT_STATUSES);
export const stepStatus = pgEnum("step_status", STEP_STATUSES);

const tags = () => text().array().notNull().default(sql`'{}'::text[]`);

export const batches = pgTable(
  "batches",
  {
    id: id().primaryKey(),
    friendlyId: text().notNull().generatedAlwaysAs(sql`'batch_' || id`),
    organizationId: text().notNull(),
    projectId: text().notNull(),
    environmentId: text().notNull(),
    status: batchStatus().notNull().default("PENDING"),
    runCount: integer().notNull(),
    parentRunId: id().references((): AnyPgColumn => runs.id),
    idempotencyKey: text(),
    idempotencyKeyExpiresAt: instant(),
    // A suite run is a batch: what GitHub needs to report it travels with it.
    suiteId: text(),
    repository: text(),
    headSha: text(),
    ref: text(),
    pullRequestNumber: integer(),
    installationId: bigint({ mode: "number" }),
    checkRunId: bigint({ mode: "number" }),
    createdAt: createdAt(),
    updatedAt: createdAt(),
    completedAt: instant(),
  },
  (t) => [
    uniqueIndex("batches_friendly_id").on(t.friendlyId),
    uniqueIndex("batches_idempotency").on(t.environmentId, t.idempotencyKey),
    index("batches_environment_list").on(t.environmentId, t.createdAt.desc(), t.id.desc()),
  ],
);

export const runs = pgTable(
  "runs",
  {
    id: id().primaryKey(),
    friendlyId: text().notNull().generatedAlwaysAs(sql`'run_' || id`),
    organizationId: text().notNull(),
    projectId: text().notNull(),
    environmentId: text().notNull(),
    task: text().notNull(),
    status: runStatus().notNull(),
    payload: jsonb(),
    output: jsonb(),
    error: jsonb(),
    attempt: integer().notNull().default(0),
    maxAttempts: integer().notNull().default(3),
    tags: tags(),
    metadata: jsonb(),
    batchId: id().references(() => batches.id),
    /** Position among its batch's items, as they were given. */
    batchIndex: integer(),
    parentRunId: id().references((): AnyPgColumn => runs.id),
    idempotencyKey: text(),
    idempotencyKeyExpiresAt: instant(),
    delayUntil: instant(),
    /** A run not started by then becomes EXPIRED (the `ttl` option). */
    expiresAt: instant(),
    createdAt: createdAt(),
    updatedAt: createdAt(),
    /** When it entered QUEUED (over its organisation's limit): promotion is FIFO on this. */
    queuedAt: instant(),
    /** When it took one of its organisation's concurrency slots (at creation, promotion or end of delay). */
    admittedAt: instant(),
    /** When its message went onto run-dispatch; a PENDING run without one is dispatched by the sweep. */
    dispatchedAt: instant(),
    startedAt: instant(),
    completedAt: instant(),
    lastHeartbeatAt: instant(),
    /**
     * When everything that follows a final status was done: RunDOs told, the parent's wait and the batch
     * completed. A final run without it after a grace period is settled again by the sweep.
     */
    settledAt: instant(),
  },
  (t) => [
    uniqueIndex("runs_friendly_id").on(t.friendlyId),
    uniqueIndex("runs_idempotency").on(t.environmentId, t.task, t.idempotencyKey),
    index("runs_environment_list").on(t.environmentId, t.createdAt.desc(), t.id.desc()),
    // Active-run counts and FIFO promotion of QUEUED runs, per organisation.
    index("runs_organization_status").on(t.organizationId, t.status, t.queuedAt, t.id),
    index("runs_batch").on(t.batchId, t.batchIndex),
    index("runs_parent").on(t.parentRunId),
    index("runs_unsettled").on(t.completedAt).where(sql`${t.completedAt} IS NOT NULL AND ${t.settledAt} IS NULL`),
  ],
);

export const waitpoints = pgTable(
  "waitpoints",
  {
    id: id().primaryKey(),
    friendlyId: text().notNull().generatedAlwaysAs(sql`'waitpoint_' || id`),
    organizationId: text().notNull(),
    projectId: text().notNull(),
    environmentId: text().notNull(),
    type: waitpointType().notNull(),
    status: waitpointStatus().notNull().default("WAITING"),
    /** The run that created it; standalone tokens have none and live in `legacy`. */
    ownerRunId: id().references(() => runs.id),
    /** RUN waitpoints: the child run or batch whose completion completes it. */
    completedByRunId: id(),
    completedByBatchId: id(),
    completeAfter: instant(),
    timeoutAt: instant(),
    idempotencyKey: text(),
    idempotencyKeyExpiresAt: instant(),
    output: jsonb(),
    outputIsError: boolean().notNull().default(false),
    tags: tags(),
    createdAt: createdAt(),
    completedAt: instant(),
  },
  (t) => [
    uniqueIndex("waitpoints_friendly_id").on(t.friendlyId),
    uniqueIndex("waitpoints_idempotency").on(t.environmentId, t.idempotencyKey),
    index("waitpoints_completed_by_run").on(t.completedByRunId),
    index("waitpoints_completed_by_batch").on(t.completedByBatchId),
  ],
);

/** Block edges: a run is WAITING while it has an edge to an uncompleted waitpoint. Stored with the run. */
export const runWaitpoints = pgTable(
  "run_waitpoints",
  {
    runId: id()
      .notNull()
      .references(() => runs.id, { onDelete: "cascade" }),
    // No foreign key: a standalone token (legacy) may block a run in the other store.
    waitpointId: id().notNull(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.runId, t.waitpointId] }), index("run_waitpoints_waitpoint").on(t.waitpointId)],
);

export const stepResults = pgTable(
  "step_results",
  {
    runId: id()
      .notNull()
      .references(() => runs.id, { onDelete: "cascade" }),
    attempt: integer().notNull(),
    index: integer().notNull(),
    action: text().notNull(),
    label: text(),
    status: stepStatus().notNull(),
    durationMs: integer(),
    error: text(),
    screenshotKey: text(),
    startedAt: instant(),
    completedAt: instant(),
  },
  (t) => [primaryKey({ columns: [t.runId, t.attempt, t.index] })],
);
