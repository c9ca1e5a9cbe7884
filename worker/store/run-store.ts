/**
 * The one interface every caller (routes, RunDO, queue consumer) uses for runs, batches and waitpoints.
 * Implemented by RoutingRunStore over two PostgresRunStores; no caller talks to a database client.
 */
import type { RunStatus } from "../../schema/contracts.ts";
import type { batches, runs, waitpoints } from "../../schema/run-ops.ts";

export type Run = typeof runs.$inferSelect;
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
  task: string;
  status: RunStatus;
  payload?: unknown;
  tags?: string[];
  metadata?: unknown;
  maxAttempts?: number;
  parentRunId?: string;
  delayUntil?: Date;
  expiresAt?: Date;
  /** Waitpoints that block the run from the start (block edges), written in the same transaction. */
  blockedBy?: string[];
}

export type NewBatchItem = Omit<NewRun, keyof Owner | "parentRunId" | "blockedBy">;

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
  Pick<Run, "status" | "output" | "error" | "attempt" | "startedAt" | "completedAt" | "lastHeartbeatAt" | "metadata" | "tags">
>;

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

export interface RunStore {
  createRun(input: NewRun): Promise<Created<Run>>;
  /** The batch and all its items, in the parent's store, as one transaction. */
  createBatch(input: NewBatch, items: NewBatchItem[]): Promise<Created<{ batch: Batch; runs: Run[] }>>;
  findRun(environmentId: string, runId: string, read?: ReadOptions): Promise<Run | undefined>;
  /** Reads a set of runs with one query per store. */
  findRuns(environmentId: string, runIds: string[]): Promise<Run[]>;
  findBatch(environmentId: string, batchId: string, read?: ReadOptions): Promise<{ batch: Batch; runs: Run[] } | undefined>;
  /** Both stores merged by (createdAt desc, id desc); the cursor is opaque. */
  listRuns(environmentId: string, filter: RunFilter, page: { limit: number; cursor?: string }): Promise<Page<Run>>;
  /** Applies the patch if the run is in one of `fromStatuses` (when given); undefined if it was not. */
  updateRun(runId: string, patch: RunPatch, fromStatuses?: readonly RunStatus[]): Promise<Run | undefined>;
  createWaitpoint(input: NewWaitpoint): Promise<Created<Waitpoint>>;
  /** Resolves by fan-out (new, then legacy), then checks the environment: another's waitpoint is not found. */
  findWaitpoint(environmentId: string, waitpointId: string): Promise<Waitpoint | undefined>;
  close(): Promise<void>;
}
