/** The runs API as a client uses it: trigger, watch a run finish, idempotency, delay, ttl, cancel, replay, batches. */
import {
  createExecutionContext,
  createScheduledController,
  env,
  runDurableObjectAlarm,
  waitOnExecutionContext,
} from "cloudflare:test";
import { describe, expect, it } from "vitest";
import worker from "../../worker/index.ts";
import { residencyOf } from "../../worker/store/ids.ts";
import { CLOSED_PORT_URL, client, createTenant, httpCheck, rowsInDatabases, siteUrl, waitForRun } from "./support.ts";

const idOf = (friendly: string) => friendly.slice(friendly.indexOf("_") + 1);

async function runSweep() {
  const ctx = createExecutionContext();
  await worker.scheduled(createScheduledController({ scheduledTime: new Date(), cron: "* * * * *" }), env, ctx);
  await waitOnExecutionContext(ctx);
}

describe("triggering a run", () => {
  it("records it, runs it and reports the result", async () => {
    const api = client((await createTenant()).apiKey);
    const { status, body } = await api.json("POST", "/api/v1/tasks/http-check/trigger", {
      ...httpCheck(`${siteUrl}/ok`, { expectBodyContains: "site under test" }),
      options: { tags: ["smoke"], metadata: { pr: 7 } },
    });
    expect(status).toBe(201);
    expect(body).toMatchObject({
      id: expect.stringMatching(/^run_/),
      isCached: false,
      publicAccessToken: expect.any(String),
    });
    expect(residencyOf(idOf(body.id))).toBe("new");

    const run = await waitForRun(api, body.id);
    expect(run).toMatchObject({
      id: body.id,
      task: "http-check",
      status: "COMPLETED",
      attempt: 1,
      tags: ["smoke"],
      metadata: { pr: 7 },
      output: { status: 200 },
      steps: [],
    });
    expect(Date.parse(run.completedAt)).toBeGreaterThanOrEqual(Date.parse(run.startedAt));
  });

  it("fails a run whose check does not hold, and gives its idempotency key back", async () => {
    const api = client((await createTenant()).apiKey);
    const trigger = () =>
      api.json("POST", "/api/v1/tasks/http-check/trigger", {
        ...httpCheck(`${siteUrl}/status/503`),
        options: { idempotencyKey: "flaky" },
      });
    const first = await trigger();
    const failed = await waitForRun(api, first.body.id);
    expect(failed).toMatchObject({ status: "FAILED", error: { message: "Expected HTTP 200, got 503" } });
    const second = await trigger();
    expect(second.body.isCached).toBe(false);
    expect(second.body.id).not.toBe(first.body.id);
  });

  it("retries an unreachable target up to maxAttempts", async () => {
    const api = client((await createTenant()).apiKey);
    const { body } = await api.json("POST", "/api/v1/tasks/http-check/trigger", {
      ...httpCheck("http://127.0.0.1:9/", { timeoutMs: 1_000 }),
      options: { maxAttempts: 2 },
    });
    expect(await waitForRun(api, body.id)).toMatchObject({ status: "FAILED", attempt: 2 });
  });

  it.for([
    ["split on", undefined],
    ["split off: admission and insert in one statement", { RUN_OPS_SPLIT_ENABLED: "false" }],
  ] as const)(
    "answers 100 concurrent identical idempotent triggers with one run and 99 cached (%s)",
    async ([, settings]) => {
      const api = client((await createTenant()).apiKey, settings);
      const responses = await Promise.all(
        Array.from({ length: 100 }, () =>
          api.json("POST", "/api/v1/tasks/http-check/trigger", {
            ...httpCheck(`${siteUrl}/ok`),
            options: { idempotencyKey: "once" },
          }),
        ),
      );
      expect(new Set(responses.map((r) => r.body.id)).size).toBe(1);
      expect(responses.filter((r) => r.body.isCached)).toHaveLength(99);
      expect(responses.filter((r) => r.status === 201)).toHaveLength(1);
    },
  );

  it("gives a child its parent's store and lists it under the parent", async () => {
    const tenant = await createTenant();
    const splitOff = client(tenant.apiKey, { RUN_OPS_SPLIT_ENABLED: "false" });
    const api = client(tenant.apiKey);
    const parent = await splitOff.json("POST", "/api/v1/tasks/http-check/trigger", {
      ...httpCheck(`${siteUrl}/ok`),
      options: { delay: "1h" },
    });
    expect(residencyOf(idOf(parent.body.id))).toBe("legacy");
    const child = await api.json("POST", "/api/v1/tasks/http-check/trigger", {
      ...httpCheck(`${siteUrl}/ok`),
      options: { parentRunId: parent.body.id },
    });
    expect(residencyOf(idOf(child.body.id))).toBe("legacy");
    expect((await api.json("GET", `/api/v1/runs/${child.body.id}`)).body.parentRunId).toBe(parent.body.id);
  });

  it("answers 503 when a database is down mid-trigger, and writes nothing to either", async () => {
    const tenant = await createTenant();
    const down = client(tenant.apiKey, { RUNOPS_DATABASE_URL: CLOSED_PORT_URL });
    const single = await down.request("POST", "/api/v1/tasks/http-check/trigger", httpCheck(`${siteUrl}/ok`));
    expect(single.status).toBe(503);
    expect(await single.json()).toMatchObject({ title: "Store unavailable", store: "new" });
    const batch = await down.request("POST", "/api/v1/tasks/batch", {
      items: [{ task: "http-check", ...httpCheck(`${siteUrl}/ok`) }],
    });
    expect(batch.status).toBe(503);
    expect(await rowsInDatabases(tenant.environmentId)).toEqual({ runs: 0, batches: 0 });

    const legacyDown = client(tenant.apiKey, { LEGACY_DATABASE_URL: CLOSED_PORT_URL });
    expect(
      (await legacyDown.request("POST", "/api/v1/tasks/http-check/trigger", httpCheck(`${siteUrl}/ok`))).status,
    ).toBe(503);
    expect(await rowsInDatabases(tenant.environmentId)).toEqual({ runs: 0, batches: 0 });
  });
});

describe("delay and ttl", () => {
  it("holds a delayed run DELAYED until its RunDO alarm admits it", async () => {
    const api = client((await createTenant()).apiKey);
    const { body } = await api.json("POST", "/api/v1/tasks/http-check/trigger", {
      ...httpCheck(`${siteUrl}/ok`),
      options: { delay: "1h" },
    });
    expect(body.status).toBe("DELAYED");
    const run = (await api.json("GET", `/api/v1/runs/${body.id}`)).body;
    expect(Date.parse(run.delayUntil) - Date.now()).toBeGreaterThan(3_500_000);

    expect(await runDurableObjectAlarm(env.RUN_DO.getByName(body.id))).toBe(true);
    expect(await waitForRun(api, body.id)).toMatchObject({ status: "COMPLETED" });
  });

  it("expires a queued run not started within its ttl", async () => {
    const api = client((await createTenant(1)).apiKey);
    const blocker = await api.json("POST", "/api/v1/tasks/http-check/trigger", httpCheck(`${siteUrl}/slow?ms=3000`));
    const queued = await api.json("POST", "/api/v1/tasks/http-check/trigger", {
      ...httpCheck(`${siteUrl}/ok`),
      options: { ttl: "500ms" },
    });
    expect(queued.body.status).toBe("QUEUED");
    await new Promise((resolve) => setTimeout(resolve, 600));
    await runSweep();
    expect((await api.json("GET", `/api/v1/runs/${queued.body.id}`)).body).toMatchObject({ status: "EXPIRED" });
    await waitForRun(api, blocker.body.id);
  });
});

describe("cancel and replay", () => {
  it("cancels a queued run, a delayed run, and a parent with its children", async () => {
    const api = client((await createTenant(1)).apiKey);
    const blocker = await api.json("POST", "/api/v1/tasks/http-check/trigger", httpCheck(`${siteUrl}/slow?ms=1500`));
    const queued = await api.json("POST", "/api/v1/tasks/http-check/trigger", httpCheck(`${siteUrl}/ok`));
    const parent = await api.json("POST", "/api/v1/tasks/http-check/trigger", {
      ...httpCheck(`${siteUrl}/ok`),
      options: { delay: "1h" },
    });
    const child = await api.json("POST", "/api/v1/tasks/http-check/trigger", {
      ...httpCheck(`${siteUrl}/ok`),
      options: { delay: "1h", parentRunId: parent.body.id },
    });
    expect(queued.body.status).toBe("QUEUED");

    expect((await api.json("POST", `/api/v1/runs/${queued.body.id}/cancel`)).body).toMatchObject({
      status: "CANCELED",
    });
    expect((await api.json("POST", `/api/v1/runs/${parent.body.id}/cancel`)).body).toMatchObject({
      status: "CANCELED",
    });
    expect((await api.json("GET", `/api/v1/runs/${child.body.id}`)).body).toMatchObject({ status: "CANCELED" });
    expect(await waitForRun(api, blocker.body.id)).toMatchObject({ status: "COMPLETED" });
  });

  it("replays a run as a new run of the same task and payload", async () => {
    const api = client((await createTenant()).apiKey);
    const original = await api.json("POST", "/api/v1/tasks/http-check/trigger", {
      ...httpCheck(`${siteUrl}/ok`),
      options: { tags: ["r"] },
    });
    await waitForRun(api, original.body.id);
    const replay = await api.json("POST", `/api/v1/runs/${original.body.id}/replay`);
    expect(replay.status).toBe(201);
    expect(replay.body.id).not.toBe(original.body.id);
    expect(await waitForRun(api, replay.body.id)).toMatchObject({
      status: "COMPLETED",
      tags: ["r"],
      payload: { url: `${siteUrl}/ok` },
    });
  });
});

describe("batches", () => {
  it("creates the items in order, runs them, and counts them", async () => {
    const api = client((await createTenant()).apiKey);
    const items = [`${siteUrl}/ok`, `${siteUrl}/status/500`, `${siteUrl}/ok`].map((url) => ({
      task: "http-check",
      ...httpCheck(url),
    }));
    const { status, body } = await api.json("POST", "/api/v1/tasks/batch", { items, idempotencyKey: "suite-run-1" });
    expect(status).toBe(201);
    expect(body.runs).toHaveLength(3);
    for (const id of body.runs) await waitForRun(api, id);

    const batch = (await api.json("GET", `/api/v1/batches/${body.id}`)).body;
    expect(batch).toMatchObject({ id: body.id, status: "COMPLETED", counts: { total: 3, completed: 2, failed: 1 } });
    expect(batch.runs.map((r: { id: string }) => r.id)).toEqual(body.runs);
    expect(batch.runs.map((r: { payload: { url: string } }) => r.payload.url)).toEqual(items.map((i) => i.payload.url));
    // The batch ended when its last item did.
    expect(batch.completedAt).toBe(
      batch.runs
        .map((r: { completedAt: string }) => r.completedAt)
        .sort()
        .at(-1),
    );

    const again = await api.json("POST", "/api/v1/tasks/batch", { items, idempotencyKey: "suite-run-1" });
    expect(again).toMatchObject({ status: 200, body: { id: body.id, runs: body.runs, isCached: true } });

    const listed = await api.json("GET", `/api/v1/runs?batchId=${body.id}&status=FAILED`);
    expect(listed.body.data.map((r: { id: string }) => r.id)).toEqual([body.runs[1]]);
  });

  it("puts a batch created by a run, and its items, in that run's store", async () => {
    const tenant = await createTenant();
    const parent = await client(tenant.apiKey, { RUN_OPS_SPLIT_ENABLED: "false" }).json(
      "POST",
      "/api/v1/tasks/http-check/trigger",
      {
        ...httpCheck(`${siteUrl}/ok`),
        options: { delay: "1h" },
      },
    );
    const { body } = await client(tenant.apiKey).json("POST", "/api/v1/tasks/batch", {
      parentRunId: parent.body.id,
      items: [{ task: "http-check", ...httpCheck(`${siteUrl}/ok`) }],
    });
    expect(residencyOf(idOf(body.id))).toBe("legacy");
    expect(residencyOf(idOf(body.runs[0]))).toBe("legacy");
  });
});

describe("listing", () => {
  it("pages with a cursor and filters by status, task and tag", async () => {
    const api = client((await createTenant()).apiKey);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const { body } = await api.json("POST", "/api/v1/tasks/http-check/trigger", {
        ...httpCheck(`${siteUrl}/ok`),
        options: { delay: "1h", tags: [i % 2 ? "odd" : "even"] },
      });
      ids.push(body.id);
    }
    const first = (await api.json("GET", "/api/v1/runs?limit=2")).body;
    const second = (await api.json("GET", `/api/v1/runs?limit=2&cursor=${first.nextCursor}`)).body;
    const third = (await api.json("GET", `/api/v1/runs?limit=2&cursor=${second.nextCursor}`)).body;
    expect([...first.data, ...second.data, ...third.data].map((r) => r.id)).toEqual([...ids].reverse());
    expect(third.nextCursor).toBeNull();
    expect((await api.json("GET", "/api/v1/runs?tag=odd")).body.data).toHaveLength(2);
    expect((await api.json("GET", "/api/v1/runs?status=DELAYED,QUEUED&task=http-check")).body.data).toHaveLength(5);
    expect((await api.json("GET", "/api/v1/runs?task=browser-case")).body.data).toHaveLength(0);
  });
});
