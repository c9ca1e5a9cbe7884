/**
 * What the run engine needs from the Durable Objects, declared on its side: the engine tells a run's object
 * (its live log, timers and waits) and a batch's object (its items and check run) what happened in the
 * stores, and never sees their classes. `worker/durable/objects.ts` is the one implementation.
 */
import type { PostedEvent, RunEvent, WakeReason } from "../../schema/live.ts";
import type { RunStatus } from "../../schema/run-states.ts";

/** What a batch's object keeps to report its suite run as a GitHub check run. */
export interface TrackedCheckRun {
  installationId: number;
  repository: string;
  headSha: string;
  name: string;
  detailsUrl: string;
  environmentId: string;
}

/** A subscription the Worker's live route authenticated: the object serves the socket. */
export interface Subscribable {
  fetch(input: URL, init: RequestInit): Promise<Response>;
}

export interface RunObject extends Subscribable {
  /** Logs a status change the engine wrote; the sequence number of its event, none when it was stale. */
  setStatus(
    runId: string,
    status: RunStatus,
    detail?: Record<string, unknown>,
    previous?: RunStatus,
  ): Promise<number | undefined>;
  /** The sweep's repair: a final status read from the store replaces what the object holds. */
  reconcile(runId: string, storedStatus: RunStatus): Promise<void>;
  /** Wakes the engine for the run at `at`, for `reason`. */
  wakeAt(reason: WakeReason, at: number, runId?: string): Promise<void>;
  appendAll(events: PostedEvent[]): Promise<number>;
  eventsSince(seq: number): Promise<RunEvent[]>;
}

export interface BatchObject extends Subscribable {
  recordItemStatus(runId: string, status: RunStatus): Promise<number>;
  /** Every item is final. */
  completeBatch(batchId: string): Promise<void>;
  /** The batch is a suite run for a GitHub commit: its object keeps its check run current. */
  trackCheckRun(batchId: string, tracked: TrackedCheckRun): Promise<void>;
}

/** The objects by internal id. */
export interface LiveObjects {
  run(runId: string): RunObject;
  batch(batchId: string): BatchObject;
}
