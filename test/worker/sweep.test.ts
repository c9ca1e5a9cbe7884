/** The cron sweep repairs what events missed: a lost dispatch, a missed promotion, a half-written run. */
import { env } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { withEngine } from "../../worker/runs/engine.ts";
import { UNCLAIMED_GRACE_MS } from "../../worker/runs/sweep.ts";
import { ConflictError } from "../../worker/store/errors.ts";
import { toFriendlyId } from "../../worker/store/ids.ts";
import { client, createTenant, rowsInDatabases, siteUrl, updateRunRow, waitForRun, withStore } from "./support.ts";

const check = {
  task: "http-check",
  payload: { url: `${siteUrl}/ok`, method: "GET", expectStatus: 200, timeoutMs: 5_000 },
};

/**
 * Sweeps until `runId` has left `status`. One pass takes at most 500 due runs, in no order, and the database is
 * shared with the other test files: on a slow machine their abandoned runs come due too and can fill a pass.
 */
async function sweepUntilMoved(runId: string, status: string) {
  let dispatched = 0;
  await vi.waitFor(
    async () => {
      dispatched += (await withEngine(env, (engine) => engine.sweep())).dispatched;
      expect((await withStore({}, (runs) => runs.loadRun(runId)))?.status).not.toBe(status);
    },
    { timeout: 60_000, interval: 200 },
  );
  return dispatched;
}

describe("sweep", () => {
  it("dispatches a PENDING run whose dispatch never went out", async () => {
    const tenant = await createTenant();
    // Phase 1 committed a minute ago, phase 2 was lost (the Worker died between them).
    const run = await withStore({}, (runs) =>
      runs.createRun({ ...tenant, ...check, status: "PENDING", admittedAt: new Date() }),
    );
    await updateRunRow(run.record.id, { createdAt: new Date(Date.now() - 60_000) });
    expect(await sweepUntilMoved(run.record.id, "PENDING")).toBeGreaterThanOrEqual(1);
    expect(await waitForRun(client(tenant.apiKey), toFriendlyId("run", run.record.id))).toMatchObject({
      status: "COMPLETED",
    });
  });

  it("dispatches again a DEQUEUED run that no executor ever claimed", async () => {
    const tenant = await createTenant();
    const run = await withStore({}, (runs) =>
      runs.createRun({ ...tenant, ...check, status: "DEQUEUED", admittedAt: new Date() }),
    );
    await updateRunRow(run.record.id, { dispatchedAt: new Date(Date.now() - UNCLAIMED_GRACE_MS - 1_000) });
    expect(await sweepUntilMoved(run.record.id, "DEQUEUED")).toBeGreaterThanOrEqual(1);
    expect(await waitForRun(client(tenant.apiKey), toFriendlyId("run", run.record.id))).toMatchObject({
      status: "COMPLETED",
      attempt: 1,
    });
  });

  it("leaves alone a DEQUEUED run dispatched long ago that its executor still heartbeats (a backlog)", async () => {
    const tenant = await createTenant();
    const run = await withStore({}, (runs) =>
      runs.createRun({ ...tenant, ...check, status: "DEQUEUED", admittedAt: new Date() }),
    );
    const dispatchedAt = new Date(Date.now() - UNCLAIMED_GRACE_MS - 60_000);
    await updateRunRow(run.record.id, { dispatchedAt, lastHeartbeatAt: new Date() });
    await withEngine(env, (engine) => engine.sweep());
    const after = await withStore({}, (runs) => runs.loadRun(run.record.id));
    expect(after).toMatchObject({ status: "DEQUEUED", attempt: 0, dispatchedAt });
  });

  it("promotes QUEUED runs that no event promoted", async () => {
    const tenant = await createTenant(5);
    const queued = await withStore({}, (runs) =>
      Promise.all(
        [0, 1, 2].map((i) =>
          runs.createRun({ ...tenant, ...check, status: "QUEUED", queuedAt: new Date(Date.now() + i) }),
        ),
      ),
    );
    const report = await withEngine(env, (engine) => engine.sweep());
    expect(report.promoted).toBeGreaterThanOrEqual(3);
    for (const { record } of queued) {
      expect(await waitForRun(client(tenant.apiKey), toFriendlyId("run", record.id))).toMatchObject({
        status: "COMPLETED",
      });
    }
  });
});

describe("transactions", () => {
  it("write a run and its block edges together or not at all", async () => {
    const tenant = await createTenant();
    const waitpoint = await withStore({}, (runs) => runs.createWaitpoint({ ...tenant, type: "TOKEN" }));
    // The same waitpoint twice violates the edge's primary key after the run row was inserted.
    const attempt = withStore({}, (runs) =>
      runs.createRun({ ...tenant, ...check, status: "WAITING", blockedBy: [waitpoint.record.id, waitpoint.record.id] }),
    );
    await expect(attempt).rejects.toBeInstanceOf(ConflictError);
    expect(await rowsInDatabases(tenant.environmentId)).toEqual({ runs: 0, batches: 0 });
  });
});
