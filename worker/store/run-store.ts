/**
 * The one interface every caller (routes, RunDO, queue consumer) uses for runs, batches and waitpoints.
 * Implemented by RoutingRunStore over two PostgresRunStores; no caller talks to a database client.
 */
import type { RunStatus } from "../../schema/run-states.ts";
import type { batches, runs, stepResults, waitpoints } from "../../schema/run-ops.ts";

export type Run = typeof runs.$inferSelect;
export type StepResult = typeof stepResults.$inferSelect;
export type NewStepResult = Omit<typeof stepResults.$inferInsert, "runId" | "attempt">;
export type Batch = typeof batches.$inferSelect;
export type Waitpoint = typeof waitpoints.$inferSelect;

/** Who a record belongs to: every read is scoped by environment. */
export interface Owner {
  organizationId: string;
  projectId: string;
  environmentId: string;
}

export interface Idempotency {
  idempotencyKey?: string;
  /** When the key stops deduplicating; unset keeps it for as long as the record lives. */
  idempotencyKeyExpiresAt?: Date;
}

export interface NewRun extends Owner, Idempotency {
  /** Minted beforehand by `newRunId` when the run was admitted first; else minted here. */
  id?: string;
  task: string;
  status: RunStatus;
  payload?: unknown;
  tags?: string[];
  metadata?: unknown;
  maxAttempts?: number;
  parentRunId?: string;
  delayUntil?: Date;
  expiresAt?: Date;
  queuedAt?: Date | null;
  admittedAt?: Date | null;
  /** Waitpoints that block the run from the start (block edges), written in the same transaction. */
  blockedBy?: string[];
}

export type NewBatchItem = Omit<NewRun, keyof Owner | "parentRunId" | "blockedBy">;

/** A run appended to a batch already running (a repository suite's tests): it may start claimed. */
export type AppendedRun = NewBatchItem & Pick<typeof runs.$inferInsert, "attempt" | "startedAt" | "lastHeartbeatAt">;

export interface NewBatch extends Owner, Idempotency {
  parentRunId?: string;
  suiteId?: string;
  repository?: string;
  headSha?: string;
  ref?: string;
  pullRequestNumber?: number;
  installationId?: number;
}

export interface NewWaitpoint extends Owner, Idempotency {
  type: Waitpoint["type"];
  /** The run that created it; a standalone token has none. */
  ownerRunId?: string;
  completedByRunId?: string;
  completedByBatchId?: string;
  completeAfter?: Date;
  timeoutAt?: Date;
  tags?: string[];
}

export type RunPatch = Partial<
  Pick<
    Run,
    | "status"
    | "output"
    | "error"
    | "attempt"
    | "queuedAt"
    | "admittedAt"
    | "dispatchedAt"
    | "startedAt"
    | "completedAt"
    | "lastHeartbeatAt"
    | "settledAt"
  >
>;

export interface WaitpointResult {
  status: "COMPLETED" | "TIMED_OUT";
  output: unknown;
  outputIsError: boolean;
}

export interface Completion {
  waitpoint: Waitpoint;
  /** False when an earlier completion (or timeout) had already taken effect. */
  completedNow: boolean;
}

export interface SweepWindow {
  /** PENDING runs created before this and never dispatched. */
  undispatchedBefore: Date;
  /** DEQUEUED runs handed to an executor before this, never claimed and not heartbeated since. */
  unclaimedBefore: Date;
  limit: number;
}

export interface Created<T> {
  record: T;
  /** True when an idempotency key matched an earlier record, which is returned instead. */
  isCached: boolean;
}

export interface RunFilter {
  status?: RunStatus[];
  task?: string;
  tag?: string;
  batchId?: string;
}

export interface Page<T> {
  data: T[];
  nextCursor: string | null;
}

export interface ReadOptions {
  /** Read from the owning writer (read-your-writes) rather than a replica. */
  fresh?: boolean;
}

export interface CreateOptions {
  /**
   * The caller has already looked the key up in legacy (admission does, in its statement): while the split is on,
   * the key is then only checked, by its unique index, where the run is written.
   */
  legacyKeyChecked?: boolean;
}

export interface RunStore {
  /** The id a new run (a child of `parentRunId`, if given) gets: its shape names the store that will own it. */
  newRunId(parentRunId?: string): string;
  createRun(input: NewRun, options?: CreateOptions): Promise<Created<Run>>;
  /** The unexpired run holding this key where a new run would live (and in legacy while the split is on). */
  findRunByIdempotencyKey(
    input: Pick<NewRun, "environmentId" | "task" | "parentRunId"> & { idempotencyKey: string },
  ): Promise<Run | undefined>;
  /** The batch and all its items, in the parent's store, as one transaction. */
  createBatch(input: NewBatch, items: NewBatchItem[]): Promise<Created<{ batch: Batch; runs: Run[] }>>;
  /**
   * Appends runs to a batch on behalf of one of its runs (`recordedBy`, kept in each run's metadata), once: a
   * second append by the same recorder gets undefined, however many callers race. The runs take the batch's
   * owner and parent, and the next indexes.
   */
  appendToBatch(batch: Batch, recordedBy: string, items: AppendedRun[]): Promise<Run[] | undefined>;
  findRun(environmentId: string, runId: string, read?: ReadOptions): Promise<Run | undefined>;
  /** Unscoped, from the writer: only for ids from a trusted source (a RunDO, a signed token). */
  loadRun(runId: string): Promise<Run | undefined>;
  /** Reads a set of runs with one query per store. */
  findRuns(environmentId: string, runIds: string[]): Promise<Run[]>;
  /** Unscoped, from the writers: only for ids from a trusted source (the admissions ledger). */
  loadRuns(runIds: string[]): Promise<Run[]>;
  findBatch(
    environmentId: string,
    batchId: string,
    read?: ReadOptions,
  ): Promise<{ batch: Batch; runs: Run[] } | undefined>;
  /** Both stores merged by (createdAt desc, id desc); the cursor is opaque. */
  listRuns(environmentId: string, filter: RunFilter, page: { limit: number; cursor?: string }): Promise<Page<Run>>;
  /**
   * Applies the patch if the run is in one of `fromStatuses` and at attempt `atAttempt` (each when given);
   * undefined if it was not: the compare-and-set every status change goes through.
   */
  updateRun(
    runId: string,
    patch: RunPatch,
    fromStatuses?: readonly RunStatus[],
    atAttempt?: number,
  ): Promise<Run | undefined>;
  /**
   * Marks the runs still PENDING as dispatched at `dispatchedAt`, with one statement per store whatever their
   * number (a batch's items), and returns the runs it marked.
   */
  markDispatched(runIds: string[], dispatchedAt: Date): Promise<Run[]>;
  /** Unscoped, from the writer: only for ids from a trusted source (a check run's external id from GitHub). */
  loadBatch(batchId: string): Promise<Batch | undefined>;
  /** What GitHub gave a suite run after it started (its check run). */
  updateBatch(batchId: string, patch: Pick<Partial<Batch>, "checkRunId">): Promise<void>;
  /** Direct children of a run (they live in its store). */
  findChildren(runId: string): Promise<Run[]>;
  /** One attempt's step results, replacing an earlier report of the same attempt. */
  recordSteps(runId: string, attempt: number, steps: NewStepResult[]): Promise<void>;
  listSteps(runId: string): Promise<StepResult[]>;
  /** The oldest QUEUED runs of each store, by (queuedAt, id): the sweep gives those without a ledger row one. */
  oldestQueuedRuns(limit: number): Promise<Run[]>;
  /** Runs a sweep must act on: due DELAYED runs, expired TTLs, PENDING never dispatched, DEQUEUED never claimed. */
  findRunsToSweep(now: Date, window: SweepWindow): Promise<Run[]>;
  /** Final runs that ended before `completedBefore` and were never settled (oldest first, per store). */
  findUnsettledRuns(completedBefore: Date, limit: number): Promise<Run[]>;
  createWaitpoint(input: NewWaitpoint): Promise<Created<Waitpoint>>;
  /** Unscoped fan-out: only for an id whose possession was proven (a callback URL's HMAC). */
  loadWaitpoint(waitpointId: string): Promise<Waitpoint | undefined>;
  /** Resolves by fan-out (new, then legacy), then checks the environment: another's waitpoint is not found. */
  findWaitpoint(environmentId: string, waitpointId: string): Promise<Waitpoint | undefined>;
  /**
   * Completes (or times out) a WAITING waitpoint found as `findWaitpoint` finds it. Only the first completion
   * takes effect (`completedNow`); the waitpoint as it ends up is returned either way.
   */
  completeWaitpoint(
    environmentId: string,
    waitpointId: string,
    result: WaitpointResult,
  ): Promise<Completion | undefined>;
  /** The RUN waitpoints still waiting on this child run or batch, written beside `ownerRunId`. */
  findWaitpointsCompletedBy(ownerRunId: string, subject: { runId: string } | { batchId: string }): Promise<Waitpoint[]>;
  /** The run's block edges become exactly these waitpoints (a run waits on one set at a time). */
  replaceBlockers(runId: string, waitpointIds: string[]): Promise<void>;
  /** The waitpoints the run's block edges point at, wherever they live. */
  findBlockers(runId: string): Promise<Waitpoint[]>;
  /** WAITING runs blocked by the waitpoint, in either store (a standalone token may block runs in both). */
  findRunsBlockedBy(waitpointId: string): Promise<Run[]>;
}
