/**
 * The executor's intake: dispatched browser cases run with bounded concurrency on one shared browser, and the
 * ones that cannot start yet wait in a bounded backlog, heartbeated like running jobs so the Worker sees them
 * go silent if this process dies. A full backlog refuses (the queue retries later with backoff).
 */
import type { DispatchMessage } from "../schema/contracts.ts";
import { type LaunchOptions, type SharedBrowser, launchSharedBrowser } from "./browser.ts";
import type { ExecutorConfig } from "./config.ts";
import { startHeartbeat } from "./heartbeat.ts";
import { ShuttingDown, runJob } from "./run-job.ts";
import type { SpecContext } from "./specs/spec-job.ts";
import { RunGone, workerClient } from "./worker-client.ts";

type PoolConfig = Pick<
  ExecutorConfig,
  "WORKER_URL" | "HEARTBEAT_INTERVAL_MS" | "EXECUTOR_CONCURRENCY" | "EXECUTOR_BACKLOG" | "SHUTDOWN_GRACE_MS"
>;

export type Intake = "accepted" | "backlog full" | "shutting down";

export interface JobPool {
  offer(job: DispatchMessage): Intake;
  /** What /healthz shows the Worker and the operators. */
  stats(): { capacity: number; running: number; backlog: number; accepted: number; finished: number; refused: number };
  readonly draining: boolean;
  /** Launches the browser now rather than with the first job. */
  warm(): Promise<void>;
  /**
   * SIGTERM: stop taking jobs, give the backlog back (dispatched again elsewhere), let running cases finish
   * within the grace period, then stop them (reported retryable), and close the browser.
   */
  close(): Promise<void>;
}

type Log = Pick<Console, "info" | "warn" | "error">;

export function createJobPool(config: PoolConfig, launch: LaunchOptions, log: Log, specs?: SpecContext): JobPool {
  const counts = { accepted: 0, finished: 0, refused: 0 };
  const backlog: DispatchMessage[] = [];
  /** Jobs not yet reported; `cases` of them hold a browser slot. */
  const jobs = new Set<Promise<void>>();
  let cases = 0;
  let draining = false;
  const stop = new AbortController();
  let browser: Promise<SharedBrowser> | undefined;
  const sharedBrowser = () => (browser ??= launchSharedBrowser(launch));
  const context = { config, browser: sharedBrowser, stop: stop.signal, log, specs };
  const clientFor = (job: DispatchMessage) => workerClient(config.WORKER_URL, job.runId, job.token);

  const pump = () => {
    while (cases < config.EXECUTOR_CONCURRENCY && backlog.length > 0) {
      const job = backlog.shift()!;
      cases += 1;
      const caseDone = () => {
        cases -= 1;
        pump();
      };
      const work = runJob(job, context, caseDone)
        .catch((error) => log.error(`run_${job.runId}: ${(error as Error).message}`))
        .finally(() => {
          jobs.delete(work);
          counts.finished += 1;
        });
      jobs.add(work);
    }
  };

  // A backlog job the Worker no longer wants here (canceled, dispatched elsewhere) is dropped.
  const backlogBeat = startHeartbeat(config.HEARTBEAT_INTERVAL_MS, () =>
    Promise.all(
      [...backlog].map((job) =>
        clientFor(job)
          .heartbeat()
          .catch((error) => {
            if (!(error instanceof RunGone)) {
              return log.warn(`run_${job.runId}: backlog heartbeat failed: ${(error as Error).message}`);
            }
            const index = backlog.indexOf(job);
            if (index >= 0) backlog.splice(index, 1);
          }),
      ),
    ),
  );

  return {
    offer(job) {
      const full = cases >= config.EXECUTOR_CONCURRENCY && backlog.length >= config.EXECUTOR_BACKLOG;
      if (draining || full) {
        counts.refused += 1;
        return draining ? "shutting down" : "backlog full";
      }
      counts.accepted += 1;
      backlog.push(job);
      pump();
      return "accepted";
    },
    stats: () => ({ capacity: config.EXECUTOR_CONCURRENCY, running: cases, backlog: backlog.length, ...counts }),
    get draining() {
      return draining;
    },
    warm: async () => void (await sharedBrowser()),
    async close() {
      draining = true;
      backlogBeat.stop();
      const unstarted = backlog.splice(0);
      await Promise.all(
        unstarted.map((job) =>
          clientFor(job)
            .release()
            .catch((error) => {
              const reason = (error as Error).message;
              log.warn(`run_${job.runId}: not released (${reason}); the sweep will dispatch it again`);
            }),
        ),
      );
      const grace = setTimeout(() => stop.abort(new ShuttingDown("executor shutting down")), config.SHUTDOWN_GRACE_MS);
      await Promise.all(jobs);
      clearTimeout(grace);
      await (await browser?.catch(() => undefined))?.close();
    },
  };
}
