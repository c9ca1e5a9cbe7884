/**
 * "A run finished" (DESIGN §2.5): one event, told to its subscribers in two rounds. The settling ones (the live
 * channel, the parent's wait, the batch) run together, and once they all succeeded the run is marked settled;
 * then the ones that follow (promotion of queued runs). The sweep tells the event again for a run whose
 * settling never finished (`repair`); every subscriber is idempotent.
 */
import type { RunStatus } from "../../schema/run-states.ts";
import type { Run, RunStore } from "../store/run-store.ts";

export interface RunFinished {
  run: Run;
  /** The status the run left in its store; unknown on a repair. */
  previous?: RunStatus;
  /** The sweep's repair of a run whose settling was lost. */
  repair: boolean;
}

export type RunFinishedSubscriber = (event: RunFinished) => Promise<unknown>;

export function runFinishedChannel(
  runs: Pick<RunStore, "updateRun">,
  subscribers: { settle: RunFinishedSubscriber[]; after: RunFinishedSubscriber[] },
): (event: RunFinished) => Promise<void> {
  return async (event) => {
    await Promise.all(subscribers.settle.map((subscriber) => subscriber(event)));
    await runs.updateRun(event.run.id, { settledAt: new Date() });
    for (const subscriber of subscribers.after) await subscriber(event);
  };
}
