/**
 * The run tables in ONE database (legacy or run-ops). The router decides which instance a call goes to; this
 * class writes and reads, and translates what Postgres throws into the store's error language.
 */
import type { Pool } from "@neondatabase/serverless";
import { type RunStatus, releasesIdempotencyKey } from "../../schema/run-states.ts";
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
import {
  Params,
  type Queryable,
  type Table,
  assignmentsOf,
  columnOf,
  insertRows,
  query,
  transaction,
  valuesOf,
} from "./sql.ts";
import { batches, runWaitpoints, runs, stepResults, waitpoints } from "./tables.ts";

/** Where a page of a list starts: strictly after this (createdAt, id), in descending order. */
export interface ListPosition {
  createdAt: Date;
  id: string;
}

const expired = (row: { idempotencyKeyExpiresAt: Date | null }, now: Date) =>
  row.idempotencyKeyExpiresAt !== null && row.idempotencyKeyExpiresAt <= now;

/**
 * Insert-or-find on an idempotency key, safe under any number of concurrent writers: the unique index on
 * `key`'s columns decides who wins (the insert does nothing on conflict) and the losers read the winner. An
 * expired holder gives its key up and the insert runs again. Without a key, a plain insert.
 */
async function insertOnce<T extends { id: string; idempotencyKeyExpiresAt: Date | null }>(
  db: Queryable,
  table: Table,
  row: object,
  key: { idempotencyKey?: string } & Record<string, string | undefined>,
): Promise<Created<T>> {
  if (!key.idempotencyKey) return { record: (await insertRows<T>(db, table, [row]))[0]!, isCached: false };
  const columns = Object.keys(key).map(columnOf);
  const params = new Params();
  const values = valuesOf(table, [row], params);
  const insertRow = `insert into ${table.name} ${values} on conflict (${columns.join(", ")}) do nothing returning *`;
  const matchesKey = columns.map((column, i) => `${column} = $${i + 1}`).join(" and ");
  const findHolder = `select * from ${table.name} where ${matchesKey}`;
  for (let attempt = 0; attempt < 3; attempt++) {
    const [inserted] = await query<T>(db, table, insertRow, params);
    if (inserted) return { record: inserted, isCached: false };
    const [holder] = await query<T>(db, table, findHolder, Object.values(key));
    if (!holder) continue; // released between our insert and our read
    if (!expired(holder, new Date())) return { record: holder, isCached: true };
    await db.query(`update ${table.name} set idempotency_key = null where id = $1`, [holder.id]);
  }
  throw new ConflictError("idempotency key is being contended; retry");
}

/** The sweep's conditions: $1 now, $2 undispatchedBefore, $3 unclaimedBefore, $4 the limit. */
const RUNS_TO_SWEEP = `select * from runs where
  (status = 'DELAYED' and delay_until <= $1)
  or (status in ('DELAYED', 'QUEUED', 'PENDING') and expires_at <= $1)
  or (status = 'PENDING' and dispatched_at is null and created_at < $2)
  or (status = 'DEQUEUED' and dispatched_at < $3 and (last_heartbeat_at is null or last_heartbeat_at < $3))
  limit $4`;

/** A second report of an attempt's steps replaces the first, field by field. */
const REPLACE_STEPS = `on conflict (run_id, attempt, index) do update set action = excluded.action,
  label = excluded.label, status = excluded.status, duration_ms = excluded.duration_ms, error = excluded.error,
  screenshot_key = excluded.screenshot_key`;

export class PostgresRunStore {
  readonly residency: Residency;
  readonly pool: Pool;
  private readonly reader: Pool;

  /** `readerPool` is a replica for plain reads; reads that must see a write go to the writer. */
  constructor(residency: Residency, writerPool: Pool, readerPool: Pool = writerPool) {
    this.residency = residency;
    this.pool = writerPool;
    this.reader = readerPool;
  }

  private async guard<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      throw normaliseStoreError(error, this.residency);
    }
  }

  /** Rows of `table` from the writer (or `db`), in the store's error language. */
  private select<T>(table: Table, text: string, params: unknown[], db: Queryable = this.pool): Promise<T[]> {
    return this.guard(() => query<T>(db, table, text, params));
  }

  private async first<T>(
    table: Table,
    text: string,
    params: unknown[],
    db: Queryable = this.pool,
  ): Promise<T | undefined> {
    return (await this.select<T>(table, text, params, db))[0];
  }

  /** The unexpired run holding this key, if any (always read from the writer). */
  async findRunByIdempotencyKey(environmentId: string, task: string, key: string): Promise<Run | undefined> {
    const row = await this.first<Run>(
      runs,
      "select * from runs where environment_id = $1 and task = $2 and idempotency_key = $3",
      [environmentId, task, key],
    );
    return row && !expired(row, new Date()) ? row : undefined;
  }

  insertRun(id: string, { blockedBy = [], ...input }: NewRun): Promise<Created<Run>> {
    return this.guard(async () => {
      if (blockedBy.length === 0) return this.insertRunRow(this.pool, id, input);
      return transaction(this.pool, async (tx) => {
        const created = await this.insertRunRow(tx, id, input);
        if (!created.isCached)
          await insertRows(
            tx,
            runWaitpoints,
            blockedBy.map((waitpointId) => ({ runId: id, waitpointId })),
          );
        return created;
      });
    });
  }

  private insertRunRow(db: Queryable, id: string, input: Omit<NewRun, "blockedBy">): Promise<Created<Run>> {
    const { environmentId, task, idempotencyKey } = input;
    return insertOnce<Run>(db, runs, { ...input, id }, { environmentId, task, idempotencyKey });
  }

  insertBatch(
    batchId: string,
    input: NewBatch,
    items: { id: string; input: NewBatchItem }[],
  ): Promise<Created<{ batch: Batch; runs: Run[] }>> {
    return this.guard(() =>
      transaction(this.pool, async (tx) => {
        const values = { ...input, id: batchId, runCount: items.length };
        const { environmentId, idempotencyKey } = input;
        const created = await insertOnce<Batch>(tx, batches, values, { environmentId, idempotencyKey });

        if (created.isCached) {
          const existing = await query<Run>(tx, runs, "select * from runs where batch_id = $1 order by batch_index", [
            created.record.id,
          ]);
          return { record: { batch: created.record, runs: existing }, isCached: true };
        }
        const owner = { organizationId: input.organizationId, projectId: input.projectId, environmentId };
        const rows = items.map((item, batchIndex) => ({
          ...item.input,
          ...owner,
          id: item.id,
          batchId,
          batchIndex,
          parentRunId: input.parentRunId,
        }));
        const inserted = rows.length ? await insertRows<Run>(tx, runs, rows) : [];
        inserted.sort((a, b) => a.batchIndex! - b.batchIndex!);
        return { record: { batch: created.record, runs: inserted }, isCached: false };
      }),
    );
  }

  appendToBatch(
    batch: Batch,
    recordedBy: string,
    items: { id: string; input: Omit<AppendedRun, "id"> }[],
  ): Promise<Run[] | undefined> {
    return this.guard(() =>
      transaction(this.pool, async (tx) => {
        // The batch row's lock orders appenders: the check below sees every earlier append, committed.
        const locked = await tx.query<{ run_count: number }>("select run_count from batches where id = $1 for update", [
          batch.id,
        ]);
        const [row] = locked.rows;
        if (!row) return undefined;
        const already = "select 1 from runs where batch_id = $1 and metadata->>'recordedBy' = $2 limit 1";
        if ((await tx.query(already, [batch.id, recordedBy])).rows.length) return undefined;
        const grow = "update batches set run_count = run_count + $1 where id = $2";
        await tx.query(grow, [items.length, batch.id]);
        const { organizationId, projectId, environmentId, parentRunId } = batch;
        const owner = { organizationId, projectId, environmentId, parentRunId, batchId: batch.id };
        const values = items.map((item, offset) => ({
          ...item.input,
          ...owner,
          metadata: { ...(item.input.metadata as object | undefined), recordedBy },
          id: item.id,
          batchIndex: row.run_count + offset,
        }));
        const inserted = await insertRows<Run>(tx, runs, values);
        return inserted.sort((a, b) => a.batchIndex! - b.batchIndex!);
      }),
    );
  }

  findRun(environmentId: string, id: string, fresh = false): Promise<Run | undefined> {
    const db = fresh ? this.pool : this.reader;
    return this.first<Run>(runs, "select * from runs where id = $1 and environment_id = $2", [id, environmentId], db);
  }

  loadRun(id: string): Promise<Run | undefined> {
    return this.first<Run>(runs, "select * from runs where id = $1", [id]);
  }

  async findRuns(environmentId: string, ids: string[]): Promise<Run[]> {
    if (ids.length === 0) return [];
    return this.select<Run>(
      runs,
      "select * from runs where environment_id = $1 and id = any($2)",
      [environmentId, ids],
      this.reader,
    );
  }

  async loadRuns(ids: string[]): Promise<Run[]> {
    if (ids.length === 0) return [];
    return this.select<Run>(runs, "select * from runs where id = any($1)", [ids]);
  }

  async findBatch(
    environmentId: string,
    id: string,
    fresh = false,
  ): Promise<{ batch: Batch; runs: Run[] } | undefined> {
    const db = fresh ? this.pool : this.reader;
    const batch = await this.first<Batch>(
      batches,
      "select * from batches where id = $1 and environment_id = $2",
      [id, environmentId],
      db,
    );
    if (!batch) return undefined;
    const items = await this.select<Run>(runs, "select * from runs where batch_id = $1 order by batch_index", [id], db);
    return { batch, runs: items };
  }

  /** Up to `limit` runs strictly after `after`, newest first. */
  listRuns(environmentId: string, filter: RunFilter, limit: number, after?: ListPosition): Promise<Run[]> {
    const params = new Params(environmentId);
    const conditions = ["environment_id = $1"];
    if (filter.status?.length) conditions.push(`status = any(${params.add(filter.status)}::run_status[])`);
    if (filter.task) conditions.push(`task = ${params.add(filter.task)}`);
    if (filter.tag) conditions.push(`tags @> array[${params.add(filter.tag)}]::text[]`);
    if (filter.batchId) conditions.push(`batch_id = ${params.add(filter.batchId)}`);
    if (after) conditions.push(`(created_at, id) < (${params.add(after.createdAt)}, ${params.add(after.id)})`);
    const text = `select * from runs where ${conditions.join(" and ")}
      order by created_at desc, id desc limit ${params.add(limit)}`;
    return this.select<Run>(runs, text, params.values, this.reader);
  }

  updateRun(
    id: string,
    patch: RunPatch,
    fromStatuses?: readonly RunStatus[],
    atAttempt?: number,
  ): Promise<Run | undefined> {
    const releaseKey = patch.status && releasesIdempotencyKey(patch.status) ? { idempotencyKey: null } : {};
    const params = new Params(id);
    const set = assignmentsOf(runs, { ...patch, ...releaseKey, updatedAt: new Date() }, params);
    const conditions = ["id = $1"];
    if (fromStatuses) conditions.push(`status = any(${params.add([...fromStatuses])}::run_status[])`);
    if (atAttempt !== undefined) conditions.push(`attempt = ${params.add(atAttempt)}`);
    return this.first<Run>(runs, `update runs set ${set} where ${conditions.join(" and ")} returning *`, params.values);
  }

  /** One statement for a whole dispatch: the runs still PENDING take `dispatchedAt`; returns those it changed. */
  async markDispatched(ids: string[], dispatchedAt: Date): Promise<Run[]> {
    if (ids.length === 0) return [];
    const text = `update runs set dispatched_at = $2, updated_at = $2
      where id = any($1) and status = 'PENDING' returning *`;
    return this.select<Run>(runs, text, [ids, dispatchedAt]);
  }

  loadBatch(id: string): Promise<Batch | undefined> {
    return this.first<Batch>(batches, "select * from batches where id = $1", [id]);
  }

  async updateBatch(id: string, patch: Pick<Partial<Batch>, "checkRunId">): Promise<void> {
    const params = new Params(id);
    const set = assignmentsOf(batches, { ...patch, updatedAt: new Date() }, params);
    await this.select(batches, `update batches set ${set} where id = $1`, params.values);
  }

  findChildren(runId: string): Promise<Run[]> {
    return this.select<Run>(runs, "select * from runs where parent_run_id = $1", [runId]);
  }

  /** One attempt's step results; a second report of the same attempt replaces the first. */
  async recordSteps(runId: string, attempt: number, steps: NewStepResult[]): Promise<void> {
    if (steps.length === 0) return;
    const params = new Params();
    const values = valuesOf(
      stepResults,
      steps.map((step) => ({ ...step, runId, attempt })),
      params,
    );
    await this.select(stepResults, `insert into step_results ${values} ${REPLACE_STEPS}`, params.values);
  }

  listSteps(runId: string): Promise<StepResult[]> {
    const text = "select * from step_results where run_id = $1 order by attempt, index";
    return this.select<StepResult>(stepResults, text, [runId], this.reader);
  }

  oldestQueuedRuns(limit: number): Promise<Run[]> {
    return this.select<Run>(runs, "select * from runs where status = 'QUEUED' order by queued_at, id limit $1", [
      limit,
    ]);
  }

  findRunsToSweep(now: Date, { undispatchedBefore, unclaimedBefore, limit }: SweepWindow): Promise<Run[]> {
    return this.select<Run>(runs, RUNS_TO_SWEEP, [now, undispatchedBefore, unclaimedBefore, limit]);
  }

  /** Served by the partial index `runs_unsettled`. */
  findUnsettledRuns(completedBefore: Date, limit: number): Promise<Run[]> {
    const text = `select * from runs where completed_at is not null and settled_at is null and completed_at < $1
      order by completed_at limit $2`;
    return this.select<Run>(runs, text, [completedBefore, limit]);
  }

  insertWaitpoint(id: string, input: NewWaitpoint): Promise<Created<Waitpoint>> {
    const { environmentId, idempotencyKey } = input;
    return this.guard(() =>
      insertOnce<Waitpoint>(this.pool, waitpoints, { ...input, id }, { environmentId, idempotencyKey }),
    );
  }

  async completeWaitpoint(id: string, result: WaitpointResult): Promise<Completion | undefined> {
    const params = new Params(id);
    const set = assignmentsOf(waitpoints, { ...result, completedAt: new Date() }, params);
    const text = `update waitpoints set ${set} where id = $1 and status = 'WAITING' returning *`;
    const completed = await this.first<Waitpoint>(waitpoints, text, params.values);
    if (completed) return { waitpoint: completed, completedNow: true };
    const waitpoint = await this.findWaitpoint(id);
    return waitpoint && { waitpoint, completedNow: false };
  }

  async findWaitpoints(ids: string[]): Promise<Waitpoint[]> {
    if (ids.length === 0) return [];
    return this.select<Waitpoint>(waitpoints, "select * from waitpoints where id = any($1)", [ids]);
  }

  /** The RUN waitpoints a parent made for this child or batch, still waiting. */
  findWaitpointsCompletedBy(subject: { runId: string } | { batchId: string }): Promise<Waitpoint[]> {
    const [column, id] =
      "runId" in subject ? ["completed_by_run_id", subject.runId] : ["completed_by_batch_id", subject.batchId];
    return this.select<Waitpoint>(waitpoints, `select * from waitpoints where ${column} = $1 and status = 'WAITING'`, [
      id,
    ]);
  }

  /** The run's block edges become exactly `waitpointIds`: a run waits on one set at a time. */
  replaceBlockers(runId: string, waitpointIds: string[]): Promise<void> {
    return this.guard(() =>
      transaction(this.pool, async (tx) => {
        await tx.query("delete from run_waitpoints where run_id = $1", [runId]);
        if (waitpointIds.length)
          await insertRows(
            tx,
            runWaitpoints,
            waitpointIds.map((waitpointId) => ({ runId, waitpointId })),
          );
      }),
    );
  }

  async blockerIds(runId: string): Promise<string[]> {
    const rows = await this.select<{ waitpointId: string }>(
      runWaitpoints,
      "select waitpoint_id from run_waitpoints where run_id = $1",
      [runId],
    );
    return rows.map((row) => row.waitpointId);
  }

  /** WAITING runs of this store blocked by the waitpoint. */
  runsBlockedBy(waitpointId: string): Promise<Run[]> {
    const text = `select runs.* from run_waitpoints join runs on runs.id = run_waitpoints.run_id
      where run_waitpoints.waitpoint_id = $1 and runs.status = 'WAITING'`;
    return this.select<Run>(runs, text, [waitpointId]);
  }

  findWaitpoint(id: string): Promise<Waitpoint | undefined> {
    return this.first<Waitpoint>(waitpoints, "select * from waitpoints where id = $1", [id]);
  }
}
