import type { Config } from "../config.ts";
import type { AdmissionLedger } from "../store/admission-store.ts";
import type { RunStore } from "../store/run-store.ts";
import type { LiveObjects } from "./objects.ts";
import type { RunFinished } from "./run-finished.ts";

/**
 * What the parts of the run engine are given, wired once in `engine.ts`: the two run-state stores, the queue
 * and the Durable Objects it tells, the executor, and the "run finished" event.
 */
export interface EngineDeps {
  runs: RunStore;
  admissions: AdmissionLedger;
  config: Config;
  queue: Pick<Queue, "sendBatch">;
  objects: LiveObjects;
  /** POSTs to the executor (the check runs it posts to GitHub). */
  callExecutor(path: string, body: unknown): Promise<Response>;
  /** Tells every subscriber that a run reached a final status (see `run-finished.ts`). */
  runFinished(event: RunFinished): Promise<void>;
  /** Work that may finish after the answer is sent (a request's waitUntil); the stores stay open for it. */
  defer(work: Promise<unknown>): void;
}
