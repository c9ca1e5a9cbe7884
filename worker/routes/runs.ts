/** Runs: trigger, read, list, cancel, replay (DESIGN §8). Handlers stay short; the engine does the work. */
import { Hono } from "hono/tiny";
import { listRunsQuerySchema, triggerBodySchema } from "../../schema/api.ts";
import { notFound } from "../problem.ts";
import { findArtifact } from "../runs/artifacts.ts";
import { mintPublicAccessToken } from "../runs/tokens.ts";
import { parseFriendlyId, toFriendlyId } from "../store/ids.ts";
import type { AppEnv } from "./context.ts";
import { presentRun } from "./present.ts";
import { limitBody, validate } from "./validate.ts";

const MAX_BODY_BYTES = 1024 * 1024;

export const runs = new Hono<AppEnv>()
  .post("/tasks/:task/trigger", limitBody(MAX_BODY_BYTES), validate("json", triggerBodySchema), async (c) => {
    const environment = c.var.environment;
    // With the key cached, run-ops connects while admission runs on the control plane, not after it.
    c.var.warmStores();
    const { record, isCached } = await c.var.engine.trigger(environment, c.req.param("task"), c.req.valid("json"));
    const id = toFriendlyId("run", record.id);
    const publicAccessToken = await mintPublicAccessToken(c.var.config.SIGNING_SECRET, environment.environmentId, id);
    return c.json({ id, status: record.status, isCached, publicAccessToken }, isCached ? 200 : 201);
  })
  .get("/runs", validate("query", listRunsQuerySchema), async (c) => {
    const { limit, cursor, batchId, ...filter } = c.req.valid("query");
    const page = await c.var.stores.runs.listRuns(
      c.var.environment.environmentId,
      { ...filter, batchId: batchId ? parseFriendlyId("batch", batchId).id : undefined },
      { limit, cursor },
    );
    return c.json({ data: page.data.map((run) => presentRun(run)), nextCursor: page.nextCursor });
  })
  .get("/runs/:runId", async (c) => {
    const { id } = parseFriendlyId("run", c.req.param("runId"));
    const { runs: store } = c.var.stores;
    const run = await store.findRun(c.var.environment.environmentId, id);
    if (!run) throw notFound("Run");
    return c.json(presentRun(run, await store.listSteps(id)));
  })
  .get("/runs/:runId/artifacts/:attempt/:name", async (c) => {
    const { id } = parseFriendlyId("run", c.req.param("runId"));
    const run = await c.var.stores.runs.findRun(c.var.environment.environmentId, id);
    const object = run && (await findArtifact(c.env.ARTIFACTS, run, c.req.param("attempt"), c.req.param("name")));
    if (!object) throw notFound("Artifact");
    return c.body(object.body, 200, {
      "content-type": object.httpMetadata?.contentType ?? "application/octet-stream",
      "cache-control": "private, max-age=3600",
    });
  })
  .post("/runs/:runId/cancel", limitBody(MAX_BODY_BYTES), async (c) => {
    const { id } = parseFriendlyId("run", c.req.param("runId"));
    return c.json(presentRun(await c.var.engine.cancel(c.var.environment, id)));
  })
  .post("/runs/:runId/replay", limitBody(MAX_BODY_BYTES), async (c) => {
    const { id } = parseFriendlyId("run", c.req.param("runId"));
    const { record } = await c.var.engine.replay(c.var.environment, id);
    return c.json({ id: toFriendlyId("run", record.id) }, 201);
  });
