/** The engine's `LiveObjects` over the Durable Object namespaces: each object is named by its subject's friendly id. */
import type { LiveObjects } from "../runs/objects.ts";
import { toFriendlyId } from "../store/ids.ts";

export const liveObjects = (bindings: Pick<Env, "RUN_DO" | "BATCH_DO">): LiveObjects => ({
  run: (runId) => bindings.RUN_DO.getByName(toFriendlyId("run", runId)),
  batch: (batchId) => bindings.BATCH_DO.getByName(toFriendlyId("batch", batchId)),
});
