/**
 * RoutingRunStore: the RunStore every caller gets. It mints ids by the residency rules, sends each call to
 * the store the id's shape names, fans out where an id does not say (waitpoints), and merges lists.
 */
import type { RunStatus } from "../../schema/run-states.ts";
import { InvalidIdError, StoreUnavailableError } from "./errors.ts";
import { type Residency, mintCuid, mintId, residencyOf } from "./ids.ts";
import type { ListPosition, PostgresRunStore } from "./postgres-store.ts";
import { type ResidencyPolicy, residencyForRun, residencyForWaitpoint } from "./residency.ts";
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
  Page,
  ReadOptions,
  Run,
  RunFilter,
  RunPatch,
  RunStore,
  Waitpoint,
  WaitpointResult,
  Completion,
  CreateOptions,
} from "./run-store.ts";

const compareIds = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const byNewestFirst = (a: Run, b: Run) => b.createdAt.getTime() - a.createdAt.getTime() || compareIds(b.id, a.id);

/** base64url, so a cursor needs no escaping in a query string. */
export function encodeCursor(position: ListPosition): string {
  const json = JSON.stringify([position.createdAt.getTime(), position.id]);
  return btoa(json).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function decodeCursor(cursor: string): ListPosition {
  try {
    const [time, id] = JSON.parse(atob(cursor.replace(/-/g, "+").replace(/_/g, "/"))) as unknown[];
    if (typeof time === "number" && Number.isSafeInteger(time) && typeof id === "string" && residencyOf(id)) {
      return { createdAt: new Date(time), id };
    }
  } catch {
    // fall through
  }
  throw new InvalidIdError("cursor is not one this API returned");
}

export class RoutingRunStore implements RunStore {
  private readonly stores: { legacy: PostgresRunStore; new?: PostgresRunStore };
  private readonly policy: ResidencyPolicy;

  constructor(stores: { legacy: PostgresRunStore; new?: PostgresRunStore }, policy: ResidencyPolicy) {
    this.stores = stores;
    this.policy = { splitEnabled: policy.splitEnabled && stores.new !== undefined };
  }

  private store(residency: Residency): PostgresRunStore {
    const store = this.stores[residency];
    if (!store) throw new StoreUnavailableError(residency, "RUNOPS_DATABASE_URL is not configured");
    return store;
  }

  private storeOf(id: string): PostgresRunStore | undefined {
    const residency = residencyOf(id);
    return residency && this.store(residency);
  }

  /** The configured stores, run-ops first: the order of a fan-out. */
  private all(): PostgresRunStore[] {
    return this.stores.new ? [this.stores.new, this.stores.legacy] : [this.stores.legacy];
  }

  async findRunByIdempotencyKey({
    environmentId,
    task,
    parentRunId,
    idempotencyKey,
  }: Pick<NewRun, "environmentId" | "task" | "parentRunId"> & { idempotencyKey: string }): Promise<Run | undefined> {
    const owner = this.store(residencyForRun(this.policy, parentRunId));
    // Keys written before the split stay authoritative: while run-ops owns new runs, legacy is asked too.
    const stores = owner === this.stores.legacy ? [owner] : [this.stores.legacy, owner];
    for (const store of stores) {
      const run = await store.findRunByIdempotencyKey(environmentId, task, idempotencyKey);
      if (run) return run;
    }
    return undefined;
  }

  newRunId(parentRunId?: string): string {
    return mintId(residencyForRun(this.policy, parentRunId));
  }

  async createRun({ id, ...input }: NewRun, { legacyKeyChecked = false }: CreateOptions = {}): Promise<Created<Run>> {
    const residency = residencyForRun(this.policy, input.parentRunId);
    if (input.idempotencyKey && residency === "new" && !legacyKeyChecked) {
      const earlier = await this.stores.legacy.findRunByIdempotencyKey(
        input.environmentId,
        input.task,
        input.idempotencyKey,
      );
      if (earlier) return { record: earlier, isCached: true };
    }
    return this.store(residency).insertRun(this.ownId(residency, id), input);
  }

  createBatch(input: NewBatch, items: NewBatchItem[]): Promise<Created<{ batch: Batch; runs: Run[] }>> {
    const residency = residencyForRun(this.policy, input.parentRunId);
    const withIds = items.map(({ id, ...item }) => ({ id: this.ownId(residency, id), input: item }));
    return this.store(residency).insertBatch(mintId(residency), input, withIds);
  }

  appendToBatch(batch: Batch, recordedBy: string, items: AppendedRun[]): Promise<Run[] | undefined> {
    const residency = residencyOf(batch.id);
    if (!residency) throw new InvalidIdError(`batch id ${batch.id} names no store`);
    const withIds = items.map(({ id, ...item }) => ({ id: this.ownId(residency, id), input: item }));
    return this.store(residency).appendToBatch(batch, recordedBy, withIds);
  }

  /** A pre-minted id must name the store the run goes to: a run never lives where its id does not say. */
  private ownId(residency: Residency, id: string | undefined): string {
    if (id === undefined) return mintId(residency);
    if (residencyOf(id) !== residency) throw new InvalidIdError(`run id ${id} does not belong in ${residency}`);
    return id;
  }

  async findRun(environmentId: string, runId: string, read: ReadOptions = {}): Promise<Run | undefined> {
    return this.storeOf(runId)?.findRun(environmentId, runId, read.fresh);
  }

  async loadRun(runId: string): Promise<Run | undefined> {
    return this.storeOf(runId)?.loadRun(runId);
  }

  async findRuns(environmentId: string, runIds: string[]): Promise<Run[]> {
    const partitions = new Map<Residency, string[]>();
    for (const id of runIds) {
      const residency = residencyOf(id);
      if (residency) partitions.set(residency, [...(partitions.get(residency) ?? []), id]);
    }
    const found = await Promise.all(
      [...partitions].map(([residency, ids]) => this.store(residency).findRuns(environmentId, ids)),
    );
    return found.flat();
  }

  /** `work` once per store that owns some of `runIds` (ids that name no store are left out), the runs merged. */
  private async perStore(runIds: string[], work: (store: PostgresRunStore, ids: string[]) => Promise<Run[]>) {
    const partitions = Map.groupBy(runIds, (id) => residencyOf(id));
    const found = await Promise.all(
      [...partitions].flatMap(([residency, ids]) => (residency ? [work(this.store(residency), ids)] : [])),
    );
    return found.flat();
  }

  loadRuns(runIds: string[]): Promise<Run[]> {
    return this.perStore(runIds, (store, ids) => store.loadRuns(ids));
  }

  async findBatch(environmentId: string, batchId: string, read: ReadOptions = {}) {
    return this.storeOf(batchId)?.findBatch(environmentId, batchId, read.fresh);
  }

  async listRuns(
    environmentId: string,
    filter: RunFilter,
    page: { limit: number; cursor?: string },
  ): Promise<Page<Run>> {
    const after = page.cursor ? decodeCursor(page.cursor) : undefined;
    const batchStore = filter.batchId ? this.storeOf(filter.batchId) : undefined;
    if (filter.batchId && !batchStore) return { data: [], nextCursor: null };
    const sources = batchStore ? [batchStore] : this.all();
    // Each store returns its own newest `limit + 1` after the cursor; the merge of those holds the true page.
    const rows = (
      await Promise.all(sources.map((store) => store.listRuns(environmentId, filter, page.limit + 1, after)))
    )
      .flat()
      .sort(byNewestFirst);
    const data = rows.slice(0, page.limit);
    const last = data.at(-1);
    return { data, nextCursor: rows.length > page.limit && last ? encodeCursor(last) : null };
  }

  async updateRun(
    runId: string,
    patch: RunPatch,
    fromStatuses?: readonly RunStatus[],
    atAttempt?: number,
  ): Promise<Run | undefined> {
    return this.storeOf(runId)?.updateRun(runId, patch, fromStatuses, atAttempt);
  }

  markDispatched(runIds: string[], dispatchedAt: Date): Promise<Run[]> {
    return this.perStore(runIds, (store, ids) => store.markDispatched(ids, dispatchedAt));
  }

  async loadBatch(batchId: string): Promise<Batch | undefined> {
    return this.storeOf(batchId)?.loadBatch(batchId);
  }

  async updateBatch(batchId: string, patch: Pick<Partial<Batch>, "checkRunId">): Promise<void> {
    await this.storeOf(batchId)?.updateBatch(batchId, patch);
  }

  async findChildren(runId: string): Promise<Run[]> {
    return (await this.storeOf(runId)?.findChildren(runId)) ?? [];
  }

  async recordSteps(runId: string, attempt: number, steps: NewStepResult[]): Promise<void> {
    await this.storeOf(runId)?.recordSteps(runId, attempt, steps);
  }

  async listSteps(runId: string) {
    return (await this.storeOf(runId)?.listSteps(runId)) ?? [];
  }

  /** The pool new root runs are written through, to connect ahead of the first query. */
  warmPool() {
    return this.store(residencyForRun(this.policy)).pool;
  }

  async oldestQueuedRuns(limit: number): Promise<Run[]> {
    return (await Promise.all(this.all().map((store) => store.oldestQueuedRuns(limit)))).flat();
  }

  async findRunsToSweep(now: Date, window: SweepWindow): Promise<Run[]> {
    const rows = await Promise.all(this.all().map((store) => store.findRunsToSweep(now, window)));
    return rows.flat();
  }

  async findUnsettledRuns(completedBefore: Date, limit: number): Promise<Run[]> {
    const rows = await Promise.all(this.all().map((store) => store.findUnsettledRuns(completedBefore, limit)));
    return rows.flat();
  }

  createWaitpoint(input: NewWaitpoint): Promise<Created<Waitpoint>> {
    return this.store(residencyForWaitpoint(input.ownerRunId)).insertWaitpoint(mintCuid(), input);
  }

  async findWaitpoint(environmentId: string, waitpointId: string): Promise<Waitpoint | undefined> {
    return (await this.resolveWaitpoint(environmentId, waitpointId))?.waitpoint;
  }

  async completeWaitpoint(
    environmentId: string,
    waitpointId: string,
    result: WaitpointResult,
  ): Promise<Completion | undefined> {
    const found = await this.resolveWaitpoint(environmentId, waitpointId);
    return found?.store.completeWaitpoint(waitpointId, result);
  }

  async findWaitpointsCompletedBy(
    ownerRunId: string,
    subject: { runId: string } | { batchId: string },
  ): Promise<Waitpoint[]> {
    return (await this.storeOf(ownerRunId)?.findWaitpointsCompletedBy(subject)) ?? [];
  }

  async replaceBlockers(runId: string, waitpointIds: string[]): Promise<void> {
    await this.storeOf(runId)?.replaceBlockers(runId, waitpointIds);
  }

  /** Edges live with the run; their waitpoints beside it, or in legacy (standalone tokens). */
  async findBlockers(runId: string): Promise<Waitpoint[]> {
    const home = this.storeOf(runId);
    if (!home) return [];
    const ids = await home.blockerIds(runId);
    const found = await home.findWaitpoints(ids);
    const missing = ids.filter((id) => !found.some((waitpoint) => waitpoint.id === id));
    if (missing.length && home !== this.stores.legacy)
      found.push(...(await this.stores.legacy.findWaitpoints(missing)));
    return found;
  }

  async findRunsBlockedBy(waitpointId: string): Promise<Run[]> {
    return (await Promise.all(this.all().map((store) => store.runsBlockedBy(waitpointId)))).flat();
  }

  async loadWaitpoint(waitpointId: string): Promise<Waitpoint | undefined> {
    return (await this.fanOut(waitpointId))?.waitpoint;
  }

  /** Fan-out (run-ops, then legacy), then the environment check: another's waitpoint does not exist. */
  private async resolveWaitpoint(environmentId: string, waitpointId: string) {
    const found = await this.fanOut(waitpointId);
    return found?.waitpoint.environmentId === environmentId ? found : undefined;
  }

  private async fanOut(waitpointId: string) {
    if (residencyOf(waitpointId) !== "legacy") return undefined;
    for (const store of this.all()) {
      const waitpoint = await store.findWaitpoint(waitpointId);
      if (waitpoint) return { waitpoint, store };
    }
    return undefined;
  }
}
