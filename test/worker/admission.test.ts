/**
 * Admission through the admissions ledger (DESIGN §11): never more runs active than the limit, strict FIFO (a
 * queued run is never overtaken by a later trigger), the ledger and its counters equal to the runs, and the
 * sweep's repair of ledger rows whose run is missing, final, or still QUEUED though its row was promoted.
 */
import { env } from "cloudflare:test";
import { eq } from "drizzle-orm";
import type { Pool } from "@neondatabase/serverless";
import { describe, expect, inject, it, vi } from "vitest";
import * as controlPlane from "../../schema/control-plane.ts";
import { loadConfig } from "../../worker/config.ts";
import type { ProblemError } from "../../worker/problem.ts";
import { withEngine } from "../../worker/runs/engine.ts";
import { UNWRITTEN_GRACE_MS } from "../../worker/runs/sweep.ts";
import { parseFriendlyId, residencyOf, toFriendlyId } from "../../worker/store/ids.ts";
import { connect } from "../../worker/store/database.ts";
import { openStores } from "../../worker/store/open.ts";
import {
  activeRunsSampler,
  client,
  createTenant,
  isFinished,
  siteUrl,
  updateRunRow,
  waitForRun,
  withLegacyDatabase,
  withStore,
} from "./support.ts";

const { admissions, organizations, runs } = controlPlane;

const check = { task: "http-check", payload: { url: `${siteUrl}/ok`, expectStatus: 200, timeoutMs: 5_000 } };
/** A run that outlasts a test's steps, so nothing but the test ends it. */
const outlasting = { payload: { url: `${siteUrl}/slow?ms=5000` } };

/** The organisation's runs in both databases, read with bare clients. */
async function runsOf(organizationId: string) {
  const found = [];
  for (const url of [inject("legacyDatabaseUrl"), inject("runopsDatabaseUrl")]) {
    const { db, close } = connect(url, { wsProxy: inject("wsProxyUrl") });
    try {
      found.push(
        ...(await db
          .select({ id: runs.id, status: runs.status, queuedAt: runs.queuedAt, admittedAt: runs.admittedAt })
          .from(runs)
          .where(eq(runs.organizationId, organizationId))),
      );
    } finally {
      await close();
    }
  }
  return found;
}

/** The organisation's ledger rows and counter row, read with a bare client. */
const ledgerOf = (organizationId: string) =>
  withLegacyDatabase(async (db) => ({
    rows: await db.select().from(admissions).where(eq(admissions.organizationId, organizationId)),
    counters: (
      await db
        .select({ active: organizations.activeRuns, queued: organizations.queuedRuns })
        .from(organizations)
        .where(eq(organizations.id, organizationId))
    )[0]!,
  }));

/**
 * Waits until the organisation's ledger is empty and its counters are zero. A run reads as final before its
 * finish releases its row (the release follows the settle), and the rows and counters are two reads: asking
 * once right after a run completed can catch the release between them.
 */
const ledgerEmptied = (organizationId: string) =>
  vi.waitFor(
    async () => expect(await ledgerOf(organizationId)).toEqual({ rows: [], counters: { active: 0, queued: 0 } }),
    {
      timeout: 60_000,
      interval: 50,
    },
  );

/** The organisation's ACTIVE ledger rows and its counter of them, in one read. */
async function ledgerActive(pool: Pool, organizationId: string): Promise<number[]> {
  const { rows } = await pool.query(
    `select active_runs as counter,
       (select count(*)::int from admissions where organization_id = $1 and state = 'ACTIVE') as rows
     from organizations where id = $1`,
    [organizationId],
  );
  return [rows[0].counter, rows[0].rows];
}

/** Moves a ledger row's creation back, past the sweep's grace for a run that was never written. */
const ageLedgerRow = (runId: string) =>
  withLegacyDatabase((db) =>
    db
      .update(admissions)
      .set({ createdAt: new Date(Date.now() - UNWRITTEN_GRACE_MS - 60_000) })
      .where(eq(admissions.runId, runId)),
  );

/** Runs `use` with the Worker's own stores (the ledger as the engine sees it), closing them after. */
async function withStores<T>(use: (stores: ReturnType<typeof openStores>) => Promise<T>): Promise<T> {
  const stores = openStores(loadConfig(env));
  try {
    return await use(stores);
  } finally {
    await stores.close();
  }
}

/** Runs `work` over `items` with at most `limit` in flight. */
async function bounded<T>(items: T[], limit: number, work: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) {
        const index = next++;
        await work(items[index]!, index);
      }
    }),
  );
}

describe("admission", () => {
  const thousand =
    "keeps 1,000 triggers interleaved with cancels and completions within a limit of 5, strictly FIFO, ledger = runs";
  // Split off, each run lives in legacy beside the ledger: its admission and its write are one statement.
  it.for([
    ["split on: the ledger, then the run in run-ops", env],
    ["split off: ledger and run in one statement", { ...env, RUN_OPS_SPLIT_ENABLED: "false" }],
  ] as const)(`${thousand} (%s)`, { timeout: 600_000 }, async ([, engineEnv]) => {
    const LIMIT = 5;
    const TRIGGERS = 1_000;
    const tenant = await createTenant(LIMIT);
    const environment = { ...tenant, slug: "admission" };
    const group = crypto.randomUUID();

    // Sampled while it runs: the active runs in both stores (under the counter row's lock) and the ledger's own
    // ACTIVE rows and counter, none of which may pass the limit at any moment.
    let sampling = true;
    const samples: number[] = [];
    const activeRuns = activeRunsSampler(tenant.organizationId);
    const ledger = connect(inject("legacyDatabaseUrl"), {
      wsProxy: inject("wsProxyUrl"),
      connectionTimeoutMillis: 60_000,
    });
    const sampler = (async () => {
      while (sampling) {
        samples.push(await activeRuns.sample(), ...(await ledgerActive(ledger.pool, tenant.organizationId)));
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })().finally(() => Promise.all([activeRuns.close(), ledger.close()]));

    // Triggers, cancels and completions go through the engine in the Workers runtime over one set of pools (the
    // HTTP routes in front of it are the concurrency test's); the runs' dispatch, claim and completion are the
    // real queue, consumer and executor. Four of five runs are canceled, oldest first (the active ones and the
    // head of the queue), a short while after they were triggered; the fifth completes through the executor.
    let canceled = 0;
    await withEngine(engineEnv, async (engine) => {
      const ids: string[] = [];
      const canceler = (async () => {
        let next = 0;
        while (next < TRIGGERS) {
          if (next >= ids.length - 10 && ids.length < TRIGGERS) {
            await new Promise((resolve) => setTimeout(resolve, 5));
            continue;
          }
          const batch = ids.slice(next, next + 5).filter((_, i) => (next + i) % 5 !== 4);
          next += 5;
          await Promise.all(
            batch.map(async (id) => {
              try {
                if ((await engine.cancel(environment, id)).status === "CANCELED") canceled++;
              } catch (error) {
                // It finished first.
                expect((error as ProblemError).problem?.status, `cancel of ${id}: ${error}`).toBe(409);
              }
            }),
          );
        }
      })();
      await bounded(Array.from({ length: TRIGGERS }), 20, async (_, seq) => {
        const { record, isCached } = await engine.trigger(environment, "http-check", {
          payload: { url: `${siteUrl}/slow?ms=20&group=${group}&seq=${seq}` },
        });
        expect(isCached).toBe(false);
        ids.push(record.id);
      });
      await canceler;
    });
    // Every run final: the last ones complete through the queue and the executor.
    await vi.waitFor(
      async () => expect((await runsOf(tenant.organizationId)).filter((run) => !isFinished(run))).toEqual([]),
      { timeout: 300_000, interval: 250 },
    );
    sampling = false;
    await sampler;

    expect(canceled).toBeGreaterThan(TRIGGERS / 2);
    expect(samples.length).toBeGreaterThan(30);
    expect(Math.max(...samples)).toBeLessThanOrEqual(LIMIT);
    const stats = await (await fetch(`${siteUrl}/stats?group=${group}`)).json<{ maxInFlight: number }>();
    expect(stats.maxInFlight).toBeLessThanOrEqual(LIMIT);

    const rows = await runsOf(tenant.organizationId);
    expect(rows).toHaveLength(TRIGGERS);
    expect(rows.filter((run) => run.status === "COMPLETED").length).toBeGreaterThan(0);
    const queuedThenAdmitted = rows
      .filter((run) => run.queuedAt && run.admittedAt)
      .sort((a, b) => a.queuedAt!.getTime() - b.queuedAt!.getTime());
    expect(queuedThenAdmitted.length).toBeGreaterThan(LIMIT);
    // FIFO: queued runs took their slots in the order they queued...
    for (let i = 1; i < queuedThenAdmitted.length; i++) {
      expect(queuedThenAdmitted[i]!.admittedAt! >= queuedThenAdmitted[i - 1]!.admittedAt!).toBe(true);
    }
    // ...and no trigger was granted a slot while an earlier run waited in the queue.
    for (const direct of rows.filter((run) => !run.queuedAt && run.admittedAt)) {
      const at = direct.admittedAt!;
      const overtaken = queuedThenAdmitted.find((run) => run.queuedAt! < at && run.admittedAt! > at);
      expect(overtaken, `run ${direct.id} overtook ${overtaken?.id}`).toBeUndefined();
    }
    // Every run is final: the ledger holds nothing for the organisation, and its counters agree.
    await ledgerEmptied(tenant.organizationId);
  });

  it("queues a trigger while an earlier run is queued, even with a slot momentarily free", async () => {
    const tenant = await createTenant(1);
    const api = client(tenant.apiKey);
    const first = await api.json("POST", "/api/v1/tasks/http-check/trigger", outlasting);
    const slow = { payload: { url: `${siteUrl}/slow?ms=100` } };
    const second = await api.json("POST", "/api/v1/tasks/http-check/trigger", slow);
    expect([first.body.status, second.body.status]).toEqual(["PENDING", "QUEUED"]);
    // The first run ended and its promotion has not happened yet: its slot looks free to anyone counting runs.
    await updateRunRow(parseFriendlyId("run", first.body.id).id, { status: "COMPLETED", completedAt: new Date() });

    const third = await api.json("POST", "/api/v1/tasks/http-check/trigger", slow);
    expect(third.body.status).toBe("QUEUED");
    expect(await ledgerOf(tenant.organizationId)).toMatchObject({ counters: { active: 1, queued: 2 } });

    // Its release (here the sweep's repair of the lost one) promotes the runs in the order they queued.
    await ageLedgerRow(parseFriendlyId("run", first.body.id).id);
    await withEngine(env, (engine) => engine.sweep());
    const [done2, done3] = [await waitForRun(api, second.body.id), await waitForRun(api, third.body.id)];
    expect(done2.status).toBe("COMPLETED");
    expect(done3.status).toBe("COMPLETED");
    expect(new Date(done2.startedAt) <= new Date(done3.startedAt)).toBe(true);
  });
});

describe("sweep repair of the admissions ledger", () => {
  it("releases rows whose run was never written or is final, and promotes into the slots they held", async () => {
    const tenant = await createTenant(2);
    const api = client(tenant.apiKey);
    // A trigger that died between its admission and its run's write: a row without a run.
    const ghost = await withStores(async ({ runs: store, admissions: ledger }) => {
      const runId = store.newRunId();
      await ledger.admit({ organizationId: tenant.organizationId, runs: [{ runId, residency: residencyOf(runId)! }] });
      return runId;
    });
    // A run that ended without its release (the Worker died after the final write).
    const ended = await api.json("POST", "/api/v1/tasks/http-check/trigger", outlasting);
    await updateRunRow(parseFriendlyId("run", ended.body.id).id, { status: "CANCELED", completedAt: new Date() });
    const waiting = await api.json("POST", "/api/v1/tasks/http-check/trigger", { payload: { url: `${siteUrl}/ok` } });
    expect(waiting.body.status).toBe("QUEUED");

    await Promise.all([ageLedgerRow(ghost), ageLedgerRow(parseFriendlyId("run", ended.body.id).id)]);
    const report = await withEngine(env, (engine) => engine.sweep());
    expect(report.released).toBeGreaterThanOrEqual(2);
    expect(await waitForRun(api, waiting.body.id)).toMatchObject({ status: "COMPLETED" });
    await waitForRun(api, ended.body.id);
    await ledgerEmptied(tenant.organizationId);
  });

  it("moves on a QUEUED run whose row was promoted before the run existed, when neither side followed up", async () => {
    const tenant = await createTenant(1);
    const stuck = await withStores(async ({ runs: store, admissions: ledger }) => {
      const runId = store.newRunId();
      await ledger.admit({ organizationId: tenant.organizationId, runs: [{ runId, residency: residencyOf(runId)! }] });
      await store.createRun({ ...tenant, ...check, id: runId, status: "QUEUED", queuedAt: new Date() });
      return runId;
    });
    await ageLedgerRow(stuck);
    const report = await withEngine(env, (engine) => engine.sweep());
    expect(report.promoted).toBeGreaterThanOrEqual(1);
    expect(await waitForRun(client(tenant.apiKey), toFriendlyId("run", stuck))).toMatchObject({ status: "COMPLETED" });
    await ledgerEmptied(tenant.organizationId);
  });

  it("gives QUEUED runs written before the ledger existed a row, and promotes them in their order", async () => {
    const tenant = await createTenant(1);
    const now = Date.now();
    const queueAt = (i: number) => ({ ...tenant, ...check, status: "QUEUED" as const, queuedAt: new Date(now + i) });
    const queued = await withStore({}, (store) => Promise.all([0, 1].map((i) => store.createRun(queueAt(i)))));
    await withEngine(env, (engine) => engine.sweep());
    const api = client(tenant.apiKey);
    const finished = [];
    for (const { record } of queued) finished.push(await waitForRun(api, toFriendlyId("run", record.id)));
    const [a, b] = finished as [any, any];
    expect([a.status, b.status]).toEqual(["COMPLETED", "COMPLETED"]);
    expect(new Date(a.startedAt) <= new Date(b.startedAt)).toBe(true);
    await ledgerEmptied(tenant.organizationId);
  });
});
