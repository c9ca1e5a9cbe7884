/** The run engine's line to each run's RunDO: initialise it, and tell it every status change. */
import { toFriendlyId } from "../store/ids.ts";
import type { Run } from "../store/run-store.ts";
import type { EngineDeps } from "./deps.ts";

const runObject = (deps: EngineDeps, run: Run) => deps.bindings.RUN_DO.getByName(toFriendlyId("run", run.id));

export async function initialiseRunObject(deps: EngineDeps, run: Run): Promise<void> {
  await runObject(deps, run).initialize(run.id, run.status, run.status === "DELAYED" ? run.delayUntil?.getTime() : undefined);
}

export async function publishStatus(deps: EngineDeps, run: Run): Promise<void> {
  await runObject(deps, run).setStatus(run.id, run.status);
}
