/**
 * The run engine: one facade over the modules that each own one concern (record, dispatch, promote,
 * finish, sweep), all taking their stores as dependencies. Routes, the queue consumer, RunDO and the cron
 * trigger call this, never the stores' databases.
 */
import type * as z from "../../schema/zod.ts";
import type { RunStatus, runCompletionSchema } from "../../schema/contracts.ts";
import { loadConfig } from "../config.ts";
import { notFound } from "../problem.ts";
import type { AuthenticatedEnvironment } from "../store/control-plane-store.ts";
import { openStores } from "../store/open.ts";
import type { Batch, Created, Owner, Run } from "../store/run-store.ts";
import type { Suite } from "../store/suite-store.ts";
import type { EngineDeps } from "./deps.ts";
import { dispatchOrLeaveForSweep, redispatchForRetry, redispatchUnstarted } from "./dispatch.ts";
import { checkHeartbeat, claimRun, handOver, recordHeartbeat } from "./execute.ts";
import { type RunResult, cancelRun, finishRun } from "./finish.ts";
import { admitDelayedRun } from "./promote.ts";
import { type BatchTriggerBody, type TriggerBody, createBatchRecord, createRunRecord } from "./record.ts";
import { type SuiteRunOrigin, startSuiteRun } from "./suite-runs.ts";
import { sweep } from "./sweep.ts";
import { type WaitRequest, waitRun, wakeWaitingRun } from "./waitpoints.ts";

export class RunEngine {
  readonly deps: EngineDeps;

  constructor(deps: EngineDeps) {
    this.deps = deps;
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

  async triggerBatch(environment: AuthenticatedEnvironment, body: BatchTriggerBody): Promise<Created<{ batch: Batch; runs: Run[] }>> {
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
    const times = [await wakeWaitingRun(this.deps, run), await checkHeartbeat(this.deps, run)].filter((at) => at !== undefined);
    return times.length ? Math.min(...times) : undefined;
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
    if (result.status === "FAILED" && result.retryable && run.attempt < run.maxAttempts) return redispatchForRetry(this.deps, run);
    return finishRun(this.deps, run, result.status, result, run.attempt);
  }

  /** A job an executor accepted but will not start (it is shutting down): dispatched again, same attempt. */
  release(run: Run): Promise<Run | undefined> {
    return redispatchUnstarted(this.deps, run);
  }

  sweep(now?: Date) {
    return sweep(this.deps, now);
  }
}

/**
 * An engine over freshly opened stores, for one unit of work (a request, an alarm, a queue batch).
 * `close` waits for deferred work, then closes the stores. `warm` starts connecting ahead of the first query.
 */
export function openEngine(env: Env): { engine: RunEngine; close: () => Promise<void>; warm: () => void } {
  const config = loadConfig(env);
  const stores = openStores(config);
  const deferred: Promise<unknown>[] = [];
  const defer = (work: Promise<unknown>) => deferred.push(work.catch((error) => console.error("deferred work failed:", error)));
  const { runs, controlPlane, admissions, suites, github } = stores;
  const engine = new RunEngine({ runs, controlPlane, admissions, suites, github, config, bindings: env, defer });
  const close = async () => {
    while (deferred.length > 0) await Promise.all(deferred.splice(0));
    await stores.close();
  };
  return { engine, close, warm: stores.warm };
}

export async function withEngine<T>(env: Env, use: (engine: RunEngine) => Promise<T>): Promise<T> {
  const { engine, close } = openEngine(env);
  try {
    return await use(engine);
  } finally {
    await close();
  }
}
