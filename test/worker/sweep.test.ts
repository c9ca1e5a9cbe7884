/** The cron sweep repairs what events missed: a lost dispatch, a missed promotion, a half-written run. */
import { env } from "cloudflare:test";
import { eq } from "drizzle-orm";
import { describe, expect, inject, it } from "vitest";
import * as runOps from "../../schema/run-ops.ts";
import { loadConfig } from "../../worker/config.ts";
import { connect } from "../../worker/store/database.ts";
import { withEngine } from "../../worker/runs/engine.ts";
import { ConflictError } from "../../worker/store/errors.ts";
import { toFriendlyId } from "../../worker/store/ids.ts";
import { openStores } from "../../worker/store/open.ts";
import type { RoutingRunStore } from "../../worker/store/routing-store.ts";
import { client, createTenant, rowsInDatabases, siteUrl, waitForRun } from "./support.ts";

async function withRuns<T>(use: (runs: RoutingRunStore) => Promise<T>): Promise<T> {
  const stores = openStores(loadConfig(env));
  try {
    return await use(stores.runs);
  } finally {
    await stores.close();
  }
}

const check = { task: "http-check", payload: { url: `${siteUrl}/ok`, method: "GET", expectStatus: 200, timeoutMs: 5_000 } };

/** Moves a run's creation back in time, with a bare client. */
async function backdate(runId: string, ms: number) {
  const { db, close } = connect(inject("runopsDatabaseUrl"), runOps, { wsProxy: inject("wsProxyUrl") });
  try {
    await db.update(runOps.runs).set({ createdAt: new Date(Date.now() - ms) }).where(eq(runOps.runs.id, runId));
  } finally {
    await close();
  }
}

describe("sweep", { timeout: 60_000 }, () => {
  it("dispatches a PENDING run whose dispatch never went out", async () => {
    const tenant = await createTenant();
    // Phase 1 committed a minute ago, phase 2 was lost (the Worker died between them).
    const run = await withRuns((runs) => runs.createRun({ ...tenant, ...check, status: "PENDING", admittedAt: new Date() }));
    await backdate(run.record.id, 60_000);
    const report = await withEngine(env, (engine) => engine.sweep());
    expect(report.dispatched).toBeGreaterThanOrEqual(1);
    expect(await waitForRun(client(tenant.apiKey), toFriendlyId("run", run.record.id))).toMatchObject({ status: "COMPLETED" });
  });

  it("promotes QUEUED runs that no event promoted", async () => {
    const tenant = await createTenant(5);
    const queued = await withRuns((runs) =>
      Promise.all([0, 1, 2].map((i) => runs.createRun({ ...tenant, ...check, status: "QUEUED", queuedAt: new Date(Date.now() + i) }))),
    );
    const report = await withEngine(env, (engine) => engine.sweep());
    expect(report.promoted).toBeGreaterThanOrEqual(3);
    for (const { record } of queued) {
      expect(await waitForRun(client(tenant.apiKey), toFriendlyId("run", record.id))).toMatchObject({ status: "COMPLETED" });
    }
  });
});

describe("transactions", () => {
  it("write a run and its block edges together or not at all", async () => {
    const tenant = await createTenant();
    const waitpoint = await withRuns((runs) => runs.createWaitpoint({ ...tenant, type: "TOKEN" }));
    // The same waitpoint twice violates the edge's primary key after the run row was inserted.
    const attempt = withRuns((runs) =>
      runs.createRun({ ...tenant, ...check, status: "WAITING", blockedBy: [waitpoint.record.id, waitpoint.record.id] }),
    );
    await expect(attempt).rejects.toBeInstanceOf(ConflictError);
    expect(await rowsInDatabases(tenant.environmentId)).toEqual({ runs: 0, batches: 0 });
  });
});
