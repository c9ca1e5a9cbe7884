/**
 * The concurrency limit under load: 300 concurrent triggers against a limit of 10. The site under test
 * never sees more than 10 checks at once, no sample of the databases ever counts more than 10 active runs,
 * every run completes, and queued runs are promoted in the order they queued.
 */
import { describe, expect, it } from "vitest";
import { activeRunsSampler, client, createTenant, siteUrl, waitForRun } from "./support.ts";

const TRIGGERS = 300;
const LIMIT = 10;

describe("per-organisation concurrency", () => {
  it(`keeps ${TRIGGERS} concurrent triggers within a limit of ${LIMIT}, loses none, and promotes FIFO`, {
    timeout: 300_000,
  }, async () => {
    const tenant = await createTenant(LIMIT);
    const api = client(tenant.apiKey);
    const group = crypto.randomUUID();

    let sampling = true;
    const samples: number[] = [];
    const activeRuns = activeRunsSampler(tenant.organizationId);
    const sampler = (async () => {
      while (sampling) {
        samples.push(await activeRuns.sample());
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })().finally(() => activeRuns.close());

    const triggered = await Promise.all(
      Array.from({ length: TRIGGERS }, (_, seq) =>
        api.json("POST", "/api/v1/tasks/http-check/trigger", {
          payload: { url: `${siteUrl}/slow?ms=30&group=${group}&seq=${seq}` },
        }),
      ),
    );
    expect(triggered.every((r) => r.status === 201)).toBe(true);
    expect(triggered.filter((r) => r.body.status === "QUEUED").length).toBeGreaterThan(TRIGGERS / 2);

    const finished = [];
    for (const { body } of triggered) finished.push(await waitForRun(api, body.id, undefined, 240_000));
    sampling = false;
    await sampler;

    expect(finished.every((run) => run.status === "COMPLETED")).toBe(true);
    const stats = await (await fetch(`${siteUrl}/stats?group=${group}`)).json<{
      maxInFlight: number;
      arrivals: string[];
    }>();
    expect(stats.arrivals).toHaveLength(TRIGGERS);
    expect(stats.maxInFlight).toBeLessThanOrEqual(LIMIT);
    expect(samples.length).toBeGreaterThan(10);
    expect(Math.max(...samples)).toBeLessThanOrEqual(LIMIT);

    // FIFO: ordered by when they queued, queued runs took their slots in that same order.
    const { body: page } = await api.json("GET", "/api/v1/runs?limit=100");
    expect(page.data.length).toBe(100);
    const queued = await queuedRunsInQueueOrder(tenant.organizationId);
    expect(queued.length).toBeGreaterThanOrEqual(TRIGGERS / 2);
    for (let i = 1; i < queued.length; i++) expect(queued[i]!.admittedAt >= queued[i - 1]!.admittedAt).toBe(true);
  });
});

import { inject } from "vitest";
import { and, asc, eq, isNotNull } from "drizzle-orm";
import * as runOps from "../../schema/run-ops.ts";
import { connect } from "../../worker/store/database.ts";

/** Every run of the organisation that was ever QUEUED, read with bare clients and merged by (queuedAt, id). */
async function queuedRunsInQueueOrder(organizationId: string) {
  const rows: { id: string; queuedAt: Date; admittedAt: Date }[] = [];
  for (const url of [inject("legacyDatabaseUrl"), inject("runopsDatabaseUrl")]) {
    const { db, close } = connect(url, { wsProxy: inject("wsProxyUrl") });
    try {
      const found = await db
        .select({ id: runOps.runs.id, queuedAt: runOps.runs.queuedAt, admittedAt: runOps.runs.admittedAt })
        .from(runOps.runs)
        .where(and(eq(runOps.runs.organizationId, organizationId), isNotNull(runOps.runs.queuedAt)))
        .orderBy(asc(runOps.runs.queuedAt));
      rows.push(...found.map((r) => ({ id: r.id, queuedAt: r.queuedAt!, admittedAt: r.admittedAt! })));
    } finally {
      await close();
    }
  }
  return rows.sort((a, b) => a.queuedAt.getTime() - b.queuedAt.getTime() || (a.id < b.id ? -1 : 1));
}
