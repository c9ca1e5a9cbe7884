/**
 * The run engine: one facade over the parts that each own one concern (record, dispatch, promote, execute,
 * waitpoints, finish, sweep), wired here once, as trigger.dev's run engine constructs its systems: each part
 * is given the stores, queue, Durable Objects and events it uses, and "run finished" is one event whose
 * subscribers are the live channel, the parent's wait, the batch and promotion. Routes, the queue consumer,
 * the Durable Objects and the cron trigger change runs through this, and read through `Stores`.
 */
import type * as z from "../../schema/zod.ts";
import type { runCompletionSchema } from "../../schema/contracts.ts";
import type { RunStatus } from "../../schema/run-states.ts";
import type { SpecTest } from "../../schema/spec-suites.ts";
import { type Config, loadConfig } from "../config.ts";
import { liveObjects } from "../durable/objects.ts";
import { callExecutor } from "../durable/executor-container.ts";
import { sendCheckRun } from "../github/check-run.ts";
import { notFound } from "../problem.ts";
import type { AuthenticatedEnvironment, ControlPlaneStore } from "../store/control-plane-store.ts";
import type { GitHubStore } from "../store/github-store.ts";
import { openStores } from "../store/open.ts";
import type { Batch, Created, Owner, Run, RunStore } from "../store/run-store.ts";
import type { Suite, SuiteStore } from "../store/suite-store.ts";
import type { EngineDeps } from "./deps.ts";
import { dispatchOrLeaveForSweep, redispatchForRetry, redispatchUnstarted } from "./dispatch.ts";
import { checkHeartbeat, claimRun, handOver, recordHeartbeat } from "./execute.ts";
import { type RunResult, cancelRun, finishRun } from "./finish.ts";
import { announceFinish } from "./live.ts";
import type { TrackedCheckRun } from "./objects.ts";
import { admitDelayedRun, promoteIntoFreedSlot } from "./promote.ts";
import { type BatchTriggerBody, type TriggerBody, createBatchRecord, createRunRecord } from "./record.ts";
import { runFinishedChannel } from "./run-finished.ts";
import { settleBatch } from "./settle-batch.ts";
import { recordSpecRuns } from "./spec-runs.ts";
import { type SuiteRunOrigin, startSuiteRun } from "./suite-runs.ts";
import { sweep } from "./sweep.ts";
import {
  type WaitRequest,
  completeParentWait,
  completeToken,
  createToken,
  readToken,
  waitRun,
  wakeWaitingRun,
} from "./waitpoints.ts";

/** What a run's state may be read through; every change goes through the engine. */
export type RunReader = Pick<
  RunStore,
  "findRun" | "findRuns" | "findBatch" | "listRuns" | "listSteps" | "loadRun" | "loadBatch" | "loadWaitpoint"
>;

/**
 * The stores as routes see them: runs to read, and the control plane, suites and GitHub installations, which
 * are not run state.
 */
export interface Stores {
  runs: RunReader;
  controlPlane: ControlPlaneStore;
  suites: SuiteStore;
  github: GitHubStore;
}

/** What the engine is built from: the run-state stores, the config, the bindings it sends through. */
export interface EngineWiring {
  runs: RunStore;
  admissions: EngineDeps["admissions"];
  config: Config;
  bindings: Pick<Env, "RUN_DISPATCH" | "RUN_DO" | "BATCH_DO" | "EXECUTOR">;
  defer(work: Promise<unknown>): void;
}

export class RunEngine {
  private readonly deps: EngineDeps;
  readonly config: Config;

  constructor({ runs, admissions, config, bindings, defer }: EngineWiring) {
    const deps: EngineDeps = {
      runs,
      admissions,
      config,
      queue: bindings.RUN_DISPATCH,
      objects: liveObjects(bindings),
      callExecutor: (path, body) => callExecutor(config, bindings, path, body),
      defer,
      runFinished: (event) => finished(event),
    };
    const finished = runFinishedChannel(runs, {
      settle: [announceFinish(deps), completeParentWait(deps), settleBatch(deps)],
      after: [promoteIntoFreedSlot(deps)],
    });
    this.deps = deps;
    this.config = config;
  }

  /** Work that may finish after the answer is sent; the stores stay open for it. */
  defer(work: Promise<unknown>): void {
    this.deps.defer(work);
  }

  /**
   * `createRun`: record (phase 1) and answer; dispatch (phase 2) follows once the record committed, after
   * the answer is sent. A dispatch that fails is repaired by the sweep.
   */
  async trigger(environment: AuthenticatedEnvironment, task: string, body: TriggerBody): Promise<Created<Run>> {
    const created = await createRunRecord(this.deps, environment, task, body);
    if (!created.isCached) this.deps.defer(dispatchOrLeaveForSweep(this.deps, [created.record]));
    return created;
  }

  async triggerBatch(
    environment: AuthenticatedEnvironment,
    body: BatchTriggerBody,
  ): Promise<Created<{ batch: Batch; runs: Run[] }>> {
    const created = await createBatchRecord(this.deps, environment, body);
    if (!created.isCached) this.deps.defer(dispatchOrLeaveForSweep(this.deps, created.record.runs));
    return created;
  }

  /** A suite's enabled cases as one batch, through both phases; a GitHub commit's run gets its check run. */
  startSuiteRun(owner: Owner, suite: Suite, origin?: SuiteRunOrigin) {
    return startSuiteRun(this.deps, owner, suite, origin);
  }

  /** A new run of the same task with the same payload and options, through both phases. */
  async replay(environment: AuthenticatedEnvironment, runId: string): Promise<Created<Run>> {
    const original = await this.deps.runs.findRun(environment.environmentId, runId);
    if (!original) throw notFound("Run");
    return this.trigger(environment, original.task, {
      payload: original.payload,
      options: {
        tags: original.tags,
        metadata: (original.metadata ?? undefined) as Record<string, unknown> | undefined,
        maxAttempts: original.maxAttempts,
      },
    });
  }

  cancel(environment: AuthenticatedEnvironment, runId: string): Promise<Run> {
    return cancelRun(this.deps, environment, runId);
  }

  finish(run: Run, status: RunStatus, result?: RunResult): Promise<Run | undefined> {
    return finishRun(this.deps, run, status, result);
  }

  /**
   * The run's RunDO alarm: a delay is over, a waitpoint came due, or a heartbeat deadline passed. Returns
   * when to wake again.
   */
  async wake(runId: string): Promise<number | undefined> {
    const run = await this.deps.runs.loadRun(runId);
    if (!run) return undefined;
    if (run.status === "DELAYED") await admitDelayedRun(this.deps, run);
    const times = [await wakeWaitingRun(this.deps, run), await checkHeartbeat(this.deps, run)].filter(
      (at) => at !== undefined,
    );
    return times.length ? Math.min(...times) : undefined;
  }

  createToken(owner: Owner, request: Parameters<typeof createToken>[2]) {
    return createToken(this.deps, owner, request);
  }

  /** A TOKEN waitpoint as it stands now (one past its timeout times out on the way). */
  readToken(environmentId: string, id: string) {
    return readToken(this.deps, environmentId, id);
  }

  completeToken(environmentId: string, id: string, output: unknown) {
    return completeToken(this.deps, environmentId, id, output);
  }

  wait(run: Run, request: WaitRequest) {
    return waitRun(this.deps, run, request);
  }

  claim(run: Run, attempt: number): Promise<Run | undefined> {
    return claimRun(this.deps, run, attempt);
  }

  handOver(run: Run): Promise<Run | undefined> {
    return handOver(this.deps, run);
  }

  heartbeat(run: Run, attempt: number): Promise<Run | undefined> {
    return recordHeartbeat(this.deps, run, attempt);
  }

  /**
   * The claimer's result for `run.attempt`: the attempt's step results are kept, then a retryable failure with
   * attempts left goes round again, and anything else is final; both only while the run is at that attempt.
   */
  async complete(run: Run, { steps = [], ...result }: z.input<typeof runCompletionSchema>) {
    await this.deps.runs.recordSteps(run.id, run.attempt, steps);
    if (result.status === "FAILED" && result.retryable && run.attempt < run.maxAttempts)
      return redispatchForRetry(this.deps, run);
    return finishRun(this.deps, run, result.status, result, run.attempt);
  }

  /** A repository suite's setup run, once Playwright listed the tests: one run per test (see spec-runs.ts). */
  recordSpecRuns(setup: Run, tests: SpecTest[]) {
    return recordSpecRuns(this.deps, setup, tests);
  }

  /** A job an executor accepted but will not start (it is shutting down): dispatched again, same attempt. */
  release(run: Run): Promise<Run | undefined> {
    return redispatchUnstarted(this.deps, run);
  }

  sweep(now?: Date) {
    return sweep(this.deps, now);
  }

  /** A batch's object syncing its suite run's check run; returns the check run's id. */
  syncCheckRun(batchId: string, tracked: TrackedCheckRun, checkRunId: number | undefined) {
    return sendCheckRun(this.deps, batchId, tracked, checkRunId);
  }
}

/**
 * An engine over freshly opened stores, for one unit of work (a request, an alarm, a queue batch), and the
 * same stores' read view. `close` waits for deferred work, then closes the stores. `warm` starts connecting
 * ahead of the first query.
 */
export function openEngine(env: Env): {
  engine: RunEngine;
  stores: Stores;
  close: () => Promise<void>;
  warm: () => void;
} {
  const config = loadConfig(env);
  const opened = openStores(config);
  const deferred: Promise<unknown>[] = [];
  const defer = (work: Promise<unknown>) =>
    deferred.push(work.catch((error) => console.error("deferred work failed:", error)));
  const { runs, controlPlane, admissions, suites, github } = opened;
  const engine = new RunEngine({ runs, admissions, config, bindings: env, defer });
  const close = async () => {
    while (deferred.length > 0) await Promise.all(deferred.splice(0));
    await opened.close();
  };
  return { engine, stores: { runs, controlPlane, suites, github }, close, warm: opened.warm };
}

export async function withEngine<T>(env: Env, use: (engine: RunEngine, stores: Stores) => Promise<T>): Promise<T> {
  const { engine, stores, close } = openEngine(env);
  try {
    return await use(engine, stores);
  } finally {
    await close();
  }
}
