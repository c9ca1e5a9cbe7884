/**
 * The periodic repair (cron): a run never waits forever. Due DELAYED runs are admitted, runs past their
 * ttl expire, PENDING runs whose dispatch never went out (and DEQUEUED runs no executor ever claimed) are
 * dispatched, final runs never settled (the Worker died between the final write and telling the RunDOs,
 * the parent and the batch) are settled again, and every organisation with QUEUED runs gets a promotion
 * pass in case an event was missed.
 */
import type { EngineDeps } from "./deps.ts";
import { buildAndDispatchRun, redispatchUnstarted } from "./dispatch.ts";
import { finishRun, resettleRun } from "./finish.ts";
import { admitDelayedRun, promoteQueuedRuns } from "./promote.ts";

/** A PENDING run undispatched for this long lost its dispatch (the trigger's send failed). */
const UNDISPATCHED_GRACE_MS = 30_000;
/**
 * A DEQUEUED run unclaimed and unheartbeated for this long was lost by its executor (it died with the job in
 * its backlog): longer than a full executor backlog takes to drain. A job still heartbeated is not lost.
 */
export const UNCLAIMED_GRACE_MS = 15 * 60_000;
/** A final run unsettled for this long lost its settling (its Worker died): longer than settling ever takes. */
export const UNSETTLED_GRACE_MS = 60_000;
const BATCH = 500;
/** Runs repaired at once: enough to keep a backlog moving, few enough not to flood the databases. */
const CONCURRENCY = 10;

async function forEachBounded<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}

export interface SweepReport {
  expired: number;
  admitted: number;
  dispatched: number;
  promoted: number;
  settled: number;
}

export async function sweep(deps: EngineDeps, now = new Date()): Promise<SweepReport> {
  const report: SweepReport = { expired: 0, admitted: 0, dispatched: 0, promoted: 0, settled: 0 };
  const due = await deps.runs.findRunsToSweep(now, {
    undispatchedBefore: new Date(now.getTime() - UNDISPATCHED_GRACE_MS),
    unclaimedBefore: new Date(now.getTime() - UNCLAIMED_GRACE_MS),
    limit: BATCH,
  });
  await forEachBounded(due, CONCURRENCY, async (run) => {
    if (run.expiresAt && run.expiresAt <= now) {
      if (await finishRun(deps, run, "EXPIRED", { error: { message: "Not started within its ttl" } })) report.expired++;
    } else if (run.status === "DELAYED") {
      if (await admitDelayedRun(deps, run)) report.admitted++;
    } else if (run.status === "DEQUEUED") {
      if (await redispatchUnstarted(deps, run)) report.dispatched++;
    } else {
      await buildAndDispatchRun(deps, run);
      report.dispatched++;
    }
  });
  const unsettled = await deps.runs.findUnsettledRuns(new Date(now.getTime() - UNSETTLED_GRACE_MS), BATCH);
  await forEachBounded(unsettled, CONCURRENCY, async (run) => {
    // One run that cannot be settled yet (its RunDO failing) holds up neither the others nor promotion.
    await resettleRun(deps, run).then(
      () => report.settled++,
      (error) => console.error(`settling run ${run.id} failed:`, error),
    );
  });
  for (const organizationId of await deps.runs.organizationsWithQueuedRuns()) {
    report.promoted += (await promoteQueuedRuns(deps, organizationId)).length;
  }
  return report;
}
