/**
 * Queued runs (DESIGN §2.3, §11). The admissions ledger decides; the runs follow by compare-and-set. Releasing a
 * run deletes its ledger row and, in the same statement, flips the organisation's oldest QUEUED rows into the
 * slots that frees (nothing to flip when nothing is queued); each flipped run is then moved QUEUED → PENDING in
 * its store and dispatched. A run written QUEUED re-reads its ledger row afterwards, so a flip that happened
 * before the run existed is never lost: whichever side's compare-and-set wins dispatches it.
 */
import type { Admission } from "../store/admission-store.ts";
import { residencyOf } from "../store/ids.ts";
import type { Run } from "../store/run-store.ts";
import type { EngineDeps } from "./deps.ts";
import type { RunFinished } from "./run-finished.ts";
import { dispatchOrLeaveForSweep } from "./dispatch.ts";
import { finishRun } from "./finish.ts";
import { isFinal } from "../../schema/run-states.ts";

/** What a ledger admission means for the run: PENDING with its slot, or QUEUED at its place in the queue. */
export const admittedFields = ({ state, queuedAt, admittedAt }: Admission) =>
  state === "ACTIVE"
    ? { status: "PENDING" as const, queuedAt, admittedAt }
    : { status: "QUEUED" as const, queuedAt, admittedAt: null };

/** A promotion statement that reports leftovers runs again; past this, the sweep finishes the job. */
const PROMOTION_PASSES = 3;

/**
 * Releases `runIds` (final, or never written) and promotes into the slots that frees, or into slots a missed
 * promotion left free when `runIds` is empty. Returns the runs it moved to PENDING and dispatched.
 */
export async function releaseAndPromote(deps: EngineDeps, organizationId: string, runIds: string[]): Promise<Run[]> {
  const taken: Run[] = [];
  let released = runIds;
  for (let pass = 0; pass < PROMOTION_PASSES; pass++) {
    const { promoted, incomplete } = await deps.admissions.releaseAndPromote(organizationId, released);
    released = [];
    for (const { runId, admittedAt } of promoted) {
      const run = await deps.runs.updateRun(runId, { status: "PENDING", admittedAt }, ["QUEUED"]);
      if (run) taken.push(run);
    }
    if (!incomplete) break;
  }
  return startPromoted(deps, taken);
}

/**
 * Promotion's part in "run finished": its ledger row goes (a no-op for a run that never had one: DELAYED) and the
 * slot it held is taken.
 */
export const promoteIntoFreedSlot =
  (deps: EngineDeps) =>
  async ({ run, repair }: RunFinished) => {
    if (!repair) await releaseAndPromote(deps, run.organizationId, [run.id]);
  };

/** Promoted runs past their ttl expire (which frees their slots again); the others are dispatched. */
async function startPromoted(deps: EngineDeps, runs: Run[]): Promise<Run[]> {
  const now = new Date();
  const expired = runs.filter((run) => run.expiresAt && run.expiresAt <= now);
  const started = runs.filter((run) => !expired.includes(run));
  await Promise.all(
    expired.map((run) => finishRun(deps, run, "EXPIRED", { error: { message: "Not started within its ttl" } })),
  );
  await dispatchOrLeaveForSweep(deps, started);
  return started;
}

/**
 * The other side of a promotion's compare-and-set: runs just written QUEUED whose ledger rows were flipped
 * ACTIVE meanwhile move to PENDING here. Returns `runs` as they are now; the caller dispatches the PENDING ones.
 */
export async function reconcileQueued(deps: EngineDeps, runs: Run[]): Promise<Run[]> {
  const queued = runs.filter((run) => run.status === "QUEUED").map((run) => run.id);
  if (queued.length === 0) return runs;
  const rows = await deps.admissions.find(queued);
  return Promise.all(
    runs.map(async (run) => {
      const row = rows.get(run.id);
      if (run.status !== "QUEUED" || row?.state !== "ACTIVE") return run;
      return (await deps.runs.updateRun(run.id, { status: "PENDING", admittedAt: row.admittedAt }, ["QUEUED"])) ?? run;
    }),
  );
}

/** A DELAYED run whose time came is admitted like a new one: its ledger row first, then the run follows. */
export async function admitDelayedRun(
  deps: EngineDeps,
  run: Pick<Run, "id" | "organizationId">,
): Promise<Run | undefined> {
  const { admitted } = await deps.admissions.admit({
    organizationId: run.organizationId,
    runs: [{ runId: run.id, residency: residencyOf(run.id)! }],
  });
  // Another admission of the same run (the sweep and the run's alarm) wrote the row first: follow it.
  const admission = admitted[0] ?? (await deps.admissions.find([run.id])).get(run.id);
  if (!admission) return undefined;
  const updated = await deps.runs.updateRun(run.id, admittedFields(admission), ["DELAYED"]);
  if (!updated) {
    // Canceled or expired meanwhile: its own release may have come before our row, so release again.
    const now = await deps.runs.loadRun(run.id);
    if (!now || isFinal(now.status)) await releaseAndPromote(deps, run.organizationId, [run.id]);
    return undefined;
  }
  const [current] = await reconcileQueued(deps, [updated]);
  await dispatchOrLeaveForSweep(deps, [current!]);
  return current;
}
