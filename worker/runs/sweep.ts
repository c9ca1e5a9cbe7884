/**
 * The periodic repair (cron): a run never waits forever. Due DELAYED runs are admitted, runs past their
 * ttl expire, PENDING runs whose dispatch never went out (and DEQUEUED runs no executor ever claimed) are
 * dispatched, final runs never settled (the Worker died between the final write and telling the RunDOs,
 * the parent and the batch) are settled again, and the admissions ledger is repaired: rows whose run is
 * missing (its write failed) or final (its release was lost) are released, ACTIVE rows whose run is still QUEUED
 * (both compare-and-sets missed) move it on, QUEUED runs without a row (from before the ledger) get one, and every
 * organisation with both a free slot and a queued run gets a promotion pass.
 */
import type { EngineDeps } from "./deps.ts";
import { dispatchOrLeaveForSweep, redispatchUnstarted } from "./dispatch.ts";
import { finishRun, resettleRun } from "./finish.ts";
import type { LedgerPosition, LedgerRow } from "../store/admission-store.ts";
import type { Run } from "../store/run-store.ts";
import { residencyOf } from "../store/ids.ts";
import { admitDelayedRun, reconcileQueued, releaseAndPromote } from "./promote.ts";
import { isFinal } from "../../schema/run-states.ts";

/** A PENDING run undispatched for this long lost its dispatch (the trigger's send failed). */
const UNDISPATCHED_GRACE_MS = 30_000;
/**
 * A DEQUEUED run unclaimed and unheartbeated for this long was lost by its executor (it died with the job in
 * its backlog): longer than a full executor backlog takes to drain. A job still heartbeated is not lost.
 */
export const UNCLAIMED_GRACE_MS = 15 * 60_000;
/** A final run unsettled for this long lost its settling (its Worker died): longer than settling ever takes. */
export const UNSETTLED_GRACE_MS = 60_000;
/**
 * A ledger row is written just before its run: one whose run is still missing after this long lost its write
 * (the Worker died or the store refused it).
 */
export const UNWRITTEN_GRACE_MS = 60_000;
/** Ledger rows checked per sweep, a page at a time. */
const LEDGER_ROWS_PER_SWEEP = 5_000;
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
  /** Ledger rows released because their run was missing or final. */
  released: number;
}

export async function sweep(deps: EngineDeps, now = new Date()): Promise<SweepReport> {
  const report: SweepReport = { expired: 0, admitted: 0, dispatched: 0, promoted: 0, settled: 0, released: 0 };
  const due = await deps.runs.findRunsToSweep(now, {
    undispatchedBefore: new Date(now.getTime() - UNDISPATCHED_GRACE_MS),
    unclaimedBefore: new Date(now.getTime() - UNCLAIMED_GRACE_MS),
    limit: BATCH,
  });
  const undispatched: Run[] = [];
  await forEachBounded(due, CONCURRENCY, async (run) => {
    if (run.expiresAt && run.expiresAt <= now) {
      if (await finishRun(deps, run, "EXPIRED", { error: { message: "Not started within its ttl" } })) report.expired++;
    } else if (run.status === "DELAYED") {
      if (await admitDelayedRun(deps, run)) report.admitted++;
    } else if (run.status === "DEQUEUED") {
      if (await redispatchUnstarted(deps, run)) report.dispatched++;
    } else {
      undispatched.push(run);
    }
  });
  report.dispatched += (await dispatchOrLeaveForSweep(deps, undispatched)).length;
  const unsettled = await deps.runs.findUnsettledRuns(new Date(now.getTime() - UNSETTLED_GRACE_MS), BATCH);
  await forEachBounded(unsettled, CONCURRENCY, async (run) => {
    // One run that cannot be settled yet (its RunDO failing) holds up neither the others nor promotion.
    await resettleRun(deps, run).then(
      () => report.settled++,
      (error) => console.error(`settling run ${run.id} failed:`, error),
    );
  });
  await repairLedger(deps, new Date(now.getTime() - UNWRITTEN_GRACE_MS), report);
  await adoptQueuedRuns(deps);
  for (const organizationId of await deps.admissions.organizationsToPromote()) {
    report.promoted += (await releaseAndPromote(deps, organizationId, [])).length;
  }
  return report;
}

/** Checks the ledger's rows written before `writtenBefore`, a page at a time, up to a bound per sweep. */
async function repairLedger(deps: EngineDeps, writtenBefore: Date, report: SweepReport): Promise<void> {
  let after: LedgerPosition | undefined;
  for (let checked = 0; checked < LEDGER_ROWS_PER_SWEEP; checked += BATCH) {
    const page = await deps.admissions.page(writtenBefore, BATCH, after);
    await repairLedgerRows(deps, page, report);
    if (page.length < BATCH) return;
    after = page.at(-1);
  }
}

/** Releases rows whose run is missing or final; moves on a QUEUED run whose row says ACTIVE. */
async function repairLedgerRows(deps: EngineDeps, rows: LedgerRow[], report: SweepReport): Promise<void> {
  const runs = new Map((await deps.runs.loadRuns(rows.map((row) => row.runId))).map((run) => [run.id, run]));
  const stale = rows.filter((row) => {
    const run = runs.get(row.runId);
    return !run || isFinal(run.status);
  });
  for (const [organizationId, staleRows] of Map.groupBy(stale, (row) => row.organizationId)) {
    await releaseAndPromote(
      deps,
      organizationId,
      staleRows.map((row) => row.runId),
    );
    report.released += staleRows.length;
  }
  const promotedRows = rows.filter((row) => row.state === "ACTIVE" && runs.get(row.runId)?.status === "QUEUED");
  const moved = await reconcileQueued(
    deps,
    promotedRows.map((row) => runs.get(row.runId)!),
  );
  const pending = moved.filter((run) => run.status === "PENDING");
  await dispatchOrLeaveForSweep(deps, pending);
  report.promoted += pending.length;
}

/** QUEUED runs without a ledger row (written before it existed) join the queue at their own queue time. */
async function adoptQueuedRuns(deps: EngineDeps): Promise<void> {
  const queued = await deps.runs.oldestQueuedRuns(BATCH);
  const rows = await deps.admissions.find(queued.map((run) => run.id));
  const orphans = queued.filter((run) => !rows.has(run.id));
  for (const [organizationId, runs] of Map.groupBy(orphans, (run: Run) => run.organizationId)) {
    await deps.admissions.adoptQueued(
      organizationId,
      runs.map((run) => ({ runId: run.id, queuedAt: run.queuedAt ?? run.createdAt, residency: residencyOf(run.id)! })),
    );
  }
}
