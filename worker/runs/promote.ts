/**
 * Queued runs (DESIGN §2.3): when a run of an organisation ends, its oldest QUEUED runs take the free
 * slots, FIFO, under the same lock admission uses; a DELAYED run whose time came is admitted the same way.
 */
import type { Run } from "../store/run-store.ts";
import type { EngineDeps } from "./deps.ts";
import { dispatchOrLeaveForSweep } from "./dispatch.ts";
import { finishRun } from "./finish.ts";
import { admissionTimes, admit } from "./record.ts";

/** Promotions running per engine and organisation: a run ending meanwhile asks for one more pass. */
const running = new WeakMap<EngineDeps, Map<string, { again: boolean; done: Promise<Run[]> }>>();

/**
 * Promotes the organisation's oldest QUEUED runs into its free slots. Calls that arrive while a promotion
 * for the same organisation is running in this engine coalesce into one more pass of it, instead of ten
 * finishing runs queueing ten times for the lock.
 */
export function promoteQueuedRuns(deps: EngineDeps, organizationId: string): Promise<Run[]> {
  let byOrganization = running.get(deps);
  if (!byOrganization) running.set(deps, (byOrganization = new Map()));
  const current = byOrganization.get(organizationId);
  if (current) {
    current.again = true;
    return current.done;
  }
  const entry = { again: true, done: Promise.resolve<Run[]>([]) };
  entry.done = (async () => {
    const promoted: Run[] = [];
    try {
      while (entry.again) {
        entry.again = false;
        promoted.push(...(await promoteOnce(deps, organizationId)));
      }
      return promoted;
    } finally {
      byOrganization.delete(organizationId);
    }
  })();
  byOrganization.set(organizationId, entry);
  return entry.done;
}

async function promoteOnce(deps: EngineDeps, organizationId: string): Promise<Run[]> {
  const expired: Run[] = [];
  const promoted = await deps.controlPlane.withOrganizationLock(organizationId, async ({ concurrencyLimit, activeInLegacy }) => {
    const free = concurrencyLimit - activeInLegacy - (await deps.runs.countActiveRuns(organizationId, ["new"]));
    if (free <= 0) return [];
    const taken: Run[] = [];
    const now = new Date();
    for (const run of await deps.runs.oldestQueuedRuns(organizationId, free)) {
      if (run.expiresAt && run.expiresAt <= now) {
        expired.push(run);
        continue;
      }
      const updated = await deps.runs.updateRun(run.id, { status: "PENDING", admittedAt: new Date() }, ["QUEUED"]);
      if (updated) taken.push(updated);
    }
    return taken;
  });
  await Promise.all(expired.map((run) => finishRun(deps, run, "EXPIRED", { error: { message: "Not started within its ttl" } })));
  await dispatchOrLeaveForSweep(deps, promoted);
  return promoted;
}

export async function admitDelayedRun(deps: EngineDeps, run: Pick<Run, "id" | "organizationId">): Promise<Run | undefined> {
  const admitted = await admit(deps, run.organizationId, 1, ([status]) =>
    deps.runs.updateRun(run.id, { status, ...admissionTimes(status!, Date.now()) }, ["DELAYED"]),
  );
  if (admitted) await dispatchOrLeaveForSweep(deps, [admitted]);
  return admitted;
}
