/** The run engine's line to each run's RunDO: every status change, as it is written to the owning store. */
import { toFriendlyId } from "../store/ids.ts";
import type { Run } from "../store/run-store.ts";
import type { EngineDeps } from "./deps.ts";

export const runObjectName = (run: Pick<Run, "id">) => toFriendlyId("run", run.id);

/** Tells the run's RunDO (and its subscribers) the run's status; a DELAYED run's alarm is set for its time. */
export async function publishStatus(deps: EngineDeps, run: Run): Promise<void> {
  const wakeAt = run.status === "DELAYED" ? run.delayUntil?.getTime() : undefined;
  await deps.bindings.RUN_DO.getByName(runObjectName(run)).setStatus(run.id, run.status, wakeAt);
}
