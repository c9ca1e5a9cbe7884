/**
 * The run tables in ONE database (legacy or run-ops). The router decides which instance a call goes to; this
 * class writes and reads, and translates what Postgres throws into the store's error language.
 */
import {
  type SQL,
  and,
  arrayContains,
  asc,
  desc,
  eq,
  inArray,
  isNotNull,
  isNull,
  lt,
  lte,
  or,
  sql,
} from "drizzle-orm";
import type { NeonQueryResultHKT } from "drizzle-orm/neon-serverless";
import type { PgDatabase } from "drizzle-orm/pg-core";
import type { RunStatus } from "../../schema/contracts.ts";
import * as runOps from "../../schema/run-ops.ts";
import { releasesIdempotencyKey } from "../runs/transitions.ts";
import type { Pool } from "@neondatabase/serverless";
import { type Database, database } from "./database.ts";
import { ConflictError, normaliseStoreError } from "./errors.ts";
import type { Residency } from "./ids.ts";
import type {
  AppendedRun,
  Batch,
  Created,
  NewBatch,
  NewBatchItem,
  NewRun,
  NewStepResult,
  NewWaitpoint,
  SweepWindow,
  Run,
  RunFilter,
  RunPatch,
  StepResult,
  Waitpoint,
  WaitpointResult,
  Completion,
} from "./run-store.ts";

const { batches, runWaitpoints, runs, stepResults, waitpoints } = runOps;

/** The database or a transaction on it. */
type Executor = PgDatabase<NeonQueryResultHKT>;

/** Where a page of a list starts: strictly after this (createdAt, id), in descending order. */
export interface ListPosition {
  createdAt: Date;
  id: string;
}

const expired = (row: { idempotencyKeyExpiresAt: Date | null }, now: Date) =>
  row.idempotencyKeyExpiresAt !== null && row.idempotencyKeyExpiresAt <= now;

/**
 * Insert-or-find on an idempotency key, safe under any number of concurrent writers: the unique index
 * decides who wins (the insert does nothing on conflict) and the losers read the winner. An expired holder
 * gives its key up and the insert runs again.
 */
async function insertOnce<T extends { idempotencyKeyExpiresAt: Date | null }>(steps: {
  insert: () => Promise<T[]>;
  findHolder: () => Promise<T[]>;
  release: (holder: T) => Promise<unknown>;
}): Promise<Created<T>> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const [inserted] = await steps.insert();
    if (inserted) return { record: inserted, isCached: false };
    const [holder] = await steps.findHolder();
    if (!holder) continue; // released between our insert and our read
    if (!expired(holder, new Date())) return { record: holder, isCached: true };
    await steps.release(holder);
  }
  throw new ConflictError("idempotency key is being contended; retry");
}

export class PostgresRunStore {
  readonly residency: Residency;
  readonly pool: Pool;
  private readonly writer: Database;
  private readonly reader: Database;

  /** `readerPool` is a replica for plain reads; reads that must see a write go to the writer. */
  constructor(residency: Residency, writerPool: Pool, readerPool: Pool = writerPool) {
    this.residency = residency;
    this.pool = writerPool;
    this.writer = database(writerPool);
    this.reader = readerPool === writerPool ? this.writer : database(readerPool);
  }


  private async guard<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      throw normaliseStoreError(error, this.residency);
    }
  }

  /** The unexpired run holding this key, if any (always read from the writer). */
  findRunByIdempotencyKey(environmentId: string, task: string, key: string): Promise<Run | undefined> {
    return this.guard(async () => {
      const [row] = await this.writer
        .select()
        .from(runs)
        .where(and(eq(runs.environmentId, environmentId), eq(runs.task, task), eq(runs.idempotencyKey, key)));
      return row && !expired(row, new Date()) ? row : undefined;
    });
  }

  insertRun(id: string, { blockedBy = [], ...input }: NewRun): Promise<Created<Run>> {
    return this.guard(async () => {
      if (blockedBy.length === 0) return this.insertRunRow(this.writer, id, input);
      return this.writer.transaction(async (tx) => {
        const created = await this.insertRunRow(tx, id, input);
        if (!created.isCached) {
          await tx.insert(runWaitpoints).values(blockedBy.map((waitpointId) => ({ runId: id, waitpointId })));
        }
        return created;
      });
    });
  }

  private insertRunRow(db: Executor, id: string, input: Omit<NewRun, "blockedBy">): Promise<Created<Run>> {
    const { environmentId, task, idempotencyKey } = input;
    if (!idempotencyKey) {
      return db
        .insert(runs)
        .values({ ...input, id })
        .returning()
        .then(([record]) => ({ record: record!, isCached: false }));
    }
    return insertOnce({
      insert: () =>
        db
          .insert(runs)
          .values({ ...input, id })
          .onConflictDoNothing({ target: [runs.environmentId, runs.task, runs.idempotencyKey] })
          .returning(),
      findHolder: () =>
        db
          .select()
          .from(runs)
          .where(and(eq(runs.environmentId, environmentId), eq(runs.task, task), eq(runs.idempotencyKey, idempotencyKey))),
      release: (holder) => db.update(runs).set({ idempotencyKey: null }).where(eq(runs.id, holder.id)),
    });
  }

  insertBatch(
    batchId: string,
    input: NewBatch,
    items: { id: string; input: NewBatchItem }[],
  ): Promise<Created<{ batch: Batch; runs: Run[] }>> {
    return this.guard(() =>
      this.writer.transaction(async (tx) => {
        const values = { ...input, id: batchId, runCount: items.length };
        const created = input.idempotencyKey
          ? await insertOnce({
              insert: () =>
                tx.insert(batches).values(values).onConflictDoNothing({ target: [batches.environmentId, batches.idempotencyKey] }).returning(),
              findHolder: () =>
                tx
                  .select()
                  .from(batches)
                  .where(and(eq(batches.environmentId, input.environmentId), eq(batches.idempotencyKey, input.idempotencyKey!))),
              release: (holder) => tx.update(batches).set({ idempotencyKey: null }).where(eq(batches.id, holder.id)),
            })
          : { record: (await tx.insert(batches).values(values).returning())[0]!, isCached: false };

        if (created.isCached) {
          const existing = await tx.select().from(runs).where(eq(runs.batchId, created.record.id)).orderBy(asc(runs.batchIndex));
          return { record: { batch: created.record, runs: existing }, isCached: true };
        }
        const owner = { organizationId: input.organizationId, projectId: input.projectId, environmentId: input.environmentId };
        const inserted = items.length
          ? await tx
              .insert(runs)
              .values(
                items.map((item, batchIndex) => ({ ...item.input, ...owner, id: item.id, batchId, batchIndex, parentRunId: input.parentRunId })),
              )
              .returning()
          : [];
        inserted.sort((a, b) => a.batchIndex! - b.batchIndex!);
        return { record: { batch: created.record, runs: inserted }, isCached: false };
      }),
    );
  }

  appendToBatch(batch: Batch, expectedCount: number, items: { id: string; input: Omit<AppendedRun, "id"> }[]): Promise<Run[] | undefined> {
    return this.guard(() =>
      this.writer.transaction(async (tx) => {
        const grown = await tx
          .update(batches)
          .set({ runCount: expectedCount + items.length })
          .where(and(eq(batches.id, batch.id), eq(batches.runCount, expectedCount)))
          .returning({ id: batches.id });
        if (grown.length === 0) return undefined;
        const { organizationId, projectId, environmentId, parentRunId } = batch;
        const owner = { organizationId, projectId, environmentId, parentRunId, batchId: batch.id };
        const values = items.map((item, offset) => ({ ...item.input, ...owner, id: item.id, batchIndex: expectedCount + offset }));
        const inserted = await tx.insert(runs).values(values).returning();
        return inserted.sort((a, b) => a.batchIndex! - b.batchIndex!);
      }),
    );
  }

  findRun(environmentId: string, id: string, fresh = false): Promise<Run | undefined> {
    const db = fresh ? this.writer : this.reader;
    return this.guard(async () => (await db.select().from(runs).where(and(eq(runs.id, id), eq(runs.environmentId, environmentId))))[0]);
  }

  loadRun(id: string): Promise<Run | undefined> {
    return this.guard(async () => (await this.writer.select().from(runs).where(eq(runs.id, id)))[0]);
  }

  findRuns(environmentId: string, ids: string[]): Promise<Run[]> {
    if (ids.length === 0) return Promise.resolve([]);
    return this.guard(() => this.reader.select().from(runs).where(and(eq(runs.environmentId, environmentId), inArray(runs.id, ids))));
  }

  loadRuns(ids: string[]): Promise<Run[]> {
    if (ids.length === 0) return Promise.resolve([]);
    return this.guard(() => this.writer.select().from(runs).where(inArray(runs.id, ids)));
  }

  findBatch(environmentId: string, id: string, fresh = false): Promise<{ batch: Batch; runs: Run[] } | undefined> {
    const db = fresh ? this.writer : this.reader;
    return this.guard(async () => {
      const [batch] = await db.select().from(batches).where(and(eq(batches.id, id), eq(batches.environmentId, environmentId)));
      if (!batch) return undefined;
      const items = await db.select().from(runs).where(eq(runs.batchId, id)).orderBy(asc(runs.batchIndex));
      return { batch, runs: items };
    });
  }

  /** Up to `limit` runs strictly after `after`, newest first. */
  listRuns(environmentId: string, filter: RunFilter, limit: number, after?: ListPosition): Promise<Run[]> {
    const conditions: (SQL | undefined)[] = [
      eq(runs.environmentId, environmentId),
      filter.status?.length ? inArray(runs.status, filter.status) : undefined,
      filter.task ? eq(runs.task, filter.task) : undefined,
      filter.tag ? arrayContains(runs.tags, [filter.tag]) : undefined,
      filter.batchId ? eq(runs.batchId, filter.batchId) : undefined,
      after
        ? or(lt(runs.createdAt, after.createdAt), and(eq(runs.createdAt, after.createdAt), lt(runs.id, after.id)))
        : undefined,
    ];
    return this.guard(() =>
      this.reader
        .select()
        .from(runs)
        .where(and(...conditions))
        .orderBy(desc(runs.createdAt), desc(runs.id))
        .limit(limit),
    );
  }

  updateRun(id: string, patch: RunPatch, fromStatuses?: readonly RunStatus[], atAttempt?: number): Promise<Run | undefined> {
    const releaseKey = patch.status && releasesIdempotencyKey(patch.status) ? { idempotencyKey: null } : {};
    return this.guard(async () => {
      const [row] = await this.writer
        .update(runs)
        .set({ ...patch, ...releaseKey, updatedAt: new Date() })
        .where(
          and(
            eq(runs.id, id),
            fromStatuses ? inArray(runs.status, [...fromStatuses]) : undefined,
            atAttempt === undefined ? undefined : eq(runs.attempt, atAttempt),
          ),
        )
        .returning();
      return row;
    });
  }

  loadBatch(id: string): Promise<Batch | undefined> {
    return this.guard(async () => (await this.writer.select().from(batches).where(eq(batches.id, id)))[0]);
  }

  updateBatch(id: string, patch: Pick<Partial<Batch>, "checkRunId">): Promise<void> {
    return this.guard(async () => {
      await this.writer.update(batches).set({ ...patch, updatedAt: new Date() }).where(eq(batches.id, id));
    });
  }

  findChildren(runId: string): Promise<Run[]> {
    return this.guard(() => this.writer.select().from(runs).where(eq(runs.parentRunId, runId)));
  }

  /** One attempt's step results; a second report of the same attempt replaces the first. */
  recordSteps(runId: string, attempt: number, steps: NewStepResult[]): Promise<void> {
    if (steps.length === 0) return Promise.resolve();
    return this.guard(async () => {
      await this.writer
        .insert(stepResults)
        .values(steps.map((step) => ({ ...step, runId, attempt })))
        .onConflictDoUpdate({
          target: [stepResults.runId, stepResults.attempt, stepResults.index],
          set: {
            action: sql`excluded.action`,
            label: sql`excluded.label`,
            status: sql`excluded.status`,
            durationMs: sql`excluded.duration_ms`,
            error: sql`excluded.error`,
            screenshotKey: sql`excluded.screenshot_key`,
          },
        });
    });
  }

  listSteps(runId: string): Promise<StepResult[]> {
    return this.guard(() =>
      this.reader.select().from(stepResults).where(eq(stepResults.runId, runId)).orderBy(asc(stepResults.attempt), asc(stepResults.index)),
    );
  }

  oldestQueuedRuns(limit: number): Promise<Run[]> {
    return this.guard(() =>
      this.writer
        .select()
        .from(runs)
        .where(eq(runs.status, "QUEUED"))
        .orderBy(asc(runs.queuedAt), asc(runs.id))
        .limit(limit),
    );
  }

  findRunsToSweep(now: Date, { undispatchedBefore, unclaimedBefore, limit }: SweepWindow): Promise<Run[]> {
    return this.guard(() =>
      this.writer
        .select()
        .from(runs)
        .where(
          or(
            and(eq(runs.status, "DELAYED"), lte(runs.delayUntil, now)),
            and(inArray(runs.status, ["DELAYED", "QUEUED", "PENDING"]), lte(runs.expiresAt, now)),
            and(eq(runs.status, "PENDING"), isNull(runs.dispatchedAt), lt(runs.createdAt, undispatchedBefore)),
            and(
              eq(runs.status, "DEQUEUED"),
              lt(runs.dispatchedAt, unclaimedBefore),
              or(isNull(runs.lastHeartbeatAt), lt(runs.lastHeartbeatAt, unclaimedBefore)),
            ),
          ),
        )
        .limit(limit),
    );
  }

  /** Served by the partial index `runs_unsettled`. */
  findUnsettledRuns(completedBefore: Date, limit: number): Promise<Run[]> {
    return this.guard(() =>
      this.writer
        .select()
        .from(runs)
        .where(and(isNotNull(runs.completedAt), isNull(runs.settledAt), lt(runs.completedAt, completedBefore)))
        .orderBy(asc(runs.completedAt))
        .limit(limit),
    );
  }

  insertWaitpoint(id: string, input: NewWaitpoint): Promise<Created<Waitpoint>> {
    return this.guard(async () => {
      if (!input.idempotencyKey) {
        const [record] = await this.writer.insert(waitpoints).values({ ...input, id }).returning();
        return { record: record!, isCached: false };
      }
      const db = this.writer;
      return insertOnce({
        insert: () =>
          db
            .insert(waitpoints)
            .values({ ...input, id })
            .onConflictDoNothing({ target: [waitpoints.environmentId, waitpoints.idempotencyKey] })
            .returning(),
        findHolder: () =>
          db
            .select()
            .from(waitpoints)
            .where(and(eq(waitpoints.environmentId, input.environmentId), eq(waitpoints.idempotencyKey, input.idempotencyKey!))),
        release: (holder) => db.update(waitpoints).set({ idempotencyKey: null }).where(eq(waitpoints.id, holder.id)),
      });
    });
  }

  completeWaitpoint(id: string, result: WaitpointResult): Promise<Completion | undefined> {
    return this.guard(async () => {
      const [completed] = await this.writer
        .update(waitpoints)
        .set({ ...result, completedAt: new Date() })
        .where(and(eq(waitpoints.id, id), eq(waitpoints.status, "WAITING")))
        .returning();
      if (completed) return { waitpoint: completed, completedNow: true };
      const waitpoint = await this.findWaitpoint(id);
      return waitpoint && { waitpoint, completedNow: false };
    });
  }

  findWaitpoints(ids: string[]): Promise<Waitpoint[]> {
    if (ids.length === 0) return Promise.resolve([]);
    return this.guard(() => this.writer.select().from(waitpoints).where(inArray(waitpoints.id, ids)));
  }

  /** The RUN waitpoints a parent made for this child or batch, still waiting. */
  findWaitpointsCompletedBy(subject: { runId: string } | { batchId: string }): Promise<Waitpoint[]> {
    const by = "runId" in subject ? eq(waitpoints.completedByRunId, subject.runId) : eq(waitpoints.completedByBatchId, subject.batchId);
    return this.guard(() => this.writer.select().from(waitpoints).where(and(by, eq(waitpoints.status, "WAITING"))));
  }

  /** The run's block edges become exactly `waitpointIds`: a run waits on one set at a time. */
  replaceBlockers(runId: string, waitpointIds: string[]): Promise<void> {
    return this.guard(() =>
      this.writer.transaction(async (tx) => {
        await tx.delete(runWaitpoints).where(eq(runWaitpoints.runId, runId));
        if (waitpointIds.length) await tx.insert(runWaitpoints).values(waitpointIds.map((waitpointId) => ({ runId, waitpointId })));
      }),
    );
  }

  blockerIds(runId: string): Promise<string[]> {
    return this.guard(async () =>
      (await this.writer.select({ id: runWaitpoints.waitpointId }).from(runWaitpoints).where(eq(runWaitpoints.runId, runId))).map((row) => row.id),
    );
  }

  /** WAITING runs of this store blocked by the waitpoint. */
  runsBlockedBy(waitpointId: string): Promise<Run[]> {
    return this.guard(async () =>
      (
        await this.writer
          .select({ run: runs })
          .from(runWaitpoints)
          .innerJoin(runs, eq(runs.id, runWaitpoints.runId))
          .where(and(eq(runWaitpoints.waitpointId, waitpointId), eq(runs.status, "WAITING")))
      ).map((row) => row.run),
    );
  }

  findWaitpoint(id: string): Promise<Waitpoint | undefined> {
    return this.guard(async () => (await this.writer.select().from(waitpoints).where(eq(waitpoints.id, id)))[0]);
  }
}
