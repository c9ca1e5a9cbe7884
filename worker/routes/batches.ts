/** Batches: trigger many runs as one (a suite run is a batch), and read one back with its runs. */
import { Hono } from "hono/tiny";
import { batchTriggerBodySchema } from "../../schema/api.ts";
import { notFound } from "../problem.ts";
import { mintPublicAccessToken } from "../runs/tokens.ts";
import { parseFriendlyId, toFriendlyId } from "../store/ids.ts";
import type { AppEnv } from "./context.ts";
import { presentBatch } from "./present.ts";
import { limitBody, validate } from "./validate.ts";

/** Up to 500 items, each with a case of up to 200 steps. */
const MAX_BATCH_BODY_BYTES = 8 * 1024 * 1024;

export const batches = new Hono<AppEnv>()
  .post("/tasks/batch", limitBody(MAX_BATCH_BODY_BYTES), validate("json", batchTriggerBodySchema), async (c) => {
    const environment = c.var.environment;
    // With the key cached, run-ops connects while admission runs on the control plane, not after it.
    c.var.warmStores();
    const { record, isCached } = await c.var.engine.triggerBatch(environment, c.req.valid("json"));
    const id = toFriendlyId("batch", record.batch.id);
    const publicAccessToken = await mintPublicAccessToken(c.var.config.SIGNING_SECRET, environment.environmentId, id);
    return c.json(
      { id, runs: record.runs.map((run) => toFriendlyId("run", run.id)), isCached, publicAccessToken },
      isCached ? 200 : 201,
    );
  })
  .get("/batches/:batchId", async (c) => {
    const { id } = parseFriendlyId("batch", c.req.param("batchId"));
    const found = await c.var.stores.runs.findBatch(c.var.environment.environmentId, id);
    if (!found) throw notFound("Batch");
    return c.json(presentBatch(found.batch, found.runs));
  });
