/**
 * Nothing is left half-finished: a run whose final status reached its store while its RunDOs, its parent's
 * wait and its batch were never told (the Worker died in between) is settled by the sweep.
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { withEngine } from "../../worker/runs/engine.ts";
import { UNSETTLED_GRACE_MS } from "../../worker/runs/sweep.ts";
import { parseFriendlyId, toFriendlyId } from "../../worker/store/ids.ts";
import { client, createTenant, withStore } from "./support.ts";

const check = { task: "http-check", payload: { url: "http://127.0.0.1:9/never-run" } };

describe("sweep settles final runs", () => {
  it("tells the RunDOs, the parent's waits and the batch of runs that ended as a crash leaves them", async () => {
    const tenant = await createTenant();
    const { parent, child, batch } = await withStore({}, async (runs) => {
      const parent = (await runs.createRun({ ...tenant, ...check, status: "EXECUTING" })).record;
      const child = (await runs.createRun({ ...tenant, ...check, status: "EXECUTING", parentRunId: parent.id })).record;
      const items = [{ ...check, status: "EXECUTING" as const }];
      const batch = (await runs.createBatch({ ...tenant, parentRunId: parent.id }, items)).record;
      return { parent, child, batch };
    });
    const item = batch.runs[0]!;
    const request = { runs: [child.id], batch: batch.batch.id };
    const waiting = await withEngine(env, (engine) => engine.wait(parent, request));
    expect(waiting.run.status).toBe("WAITING");

    // The final writes commit; the Worker dies before telling anyone. They ended past the sweep's grace.
    const completedAt = new Date(Date.now() - UNSETTLED_GRACE_MS - 1_000);
    const ended = { status: "COMPLETED" as const, completedAt, output: { ok: 1 } };
    await withStore({}, (store) =>
      Promise.all([child, item].map(({ id }) => store.updateRun(id, ended, ["EXECUTING"]))),
    );
    const report = await withEngine(env, (engine) => engine.sweep());
    expect(report.settled).toBeGreaterThanOrEqual(2);
    const stored = await withStore({}, (runs) => Promise.all([parent, child, item].map((run) => runs.loadRun(run.id))));
    expect(stored[0]).toMatchObject({ status: "EXECUTING" }); // its waits completed, so it resumed
    expect(stored[1]?.settledAt).toBeInstanceOf(Date);
    expect(stored[2]?.settledAt).toBeInstanceOf(Date);
    expect((await env.BATCH_DO.getByName(toFriendlyId("batch", batch.batch.id)).snapshot()).status).toBe("COMPLETED");
    for (const run of [child, item]) {
      expect((await env.RUN_DO.getByName(toFriendlyId("run", run.id)).snapshot()).status).toBe("COMPLETED");
    }

    const unsettled = await withStore({}, (runs) => runs.findUnsettledRuns(new Date(), 500));
    expect(unsettled.map((run) => run.id)).not.toContain(child.id);
  });

  it("leaves nothing to settle after a run ends normally", async () => {
    const tenant = await createTenant();
    const api = client(tenant.apiKey);
    const trigger = { payload: check.payload, options: { delay: "1h" } };
    const { body } = await api.json("POST", "/api/v1/tasks/http-check/trigger", trigger);
    expect((await api.json("POST", `/api/v1/runs/${body.id}/cancel`)).body).toMatchObject({ status: "CANCELED" });
    const stored = await withStore({}, (runs) => runs.loadRun(parseFriendlyId("run", body.id).id));
    expect(stored?.settledAt).toBeInstanceOf(Date);
  });
});
