/**
 * Runs waiting on waitpoints (DESIGN §4): an executing run blocks on tokens, a datetime, or its children,
 * is WAITING until the last completes, then resumes with their outputs. Timeouts and datetimes fire from
 * the run's RunDO alarm (driven here with runDurableObjectAlarm, no sleeps).
 */
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { RunDO } from "../../worker/durable/run-do.ts";
import { loadConfig } from "../../worker/config.ts";
import {
  client,
  createTenant,
  httpCheck,
  recordPendingRun,
  siteUrl,
  updateWaitpointRow,
  waitForRun,
} from "./support.ts";

const browserCase = { case: { name: "gated", steps: [{ action: "goto", url: "/" }] }, baseUrl: siteUrl };

/** A claimed (EXECUTING) run, its executor's calls, and its tenant's API. */
async function executingRun() {
  const { friendlyId: id, run, tenant, token } = await recordPendingRun("browser-case", browserCase);
  const call = async (path: string, body?: unknown) => {
    const response = await exports.default.fetch(`http://flightcheck/internal/runs/${id}/${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify(body ?? {}),
    });
    return { status: response.status, body: response.status === 204 ? undefined : ((await response.json()) as any) };
  };
  expect((await call("claim", { attempt: 1 })).status).toBe(200);
  const api = client(tenant.apiKey);
  const status = async () => (await api.json("GET", `/api/v1/runs/${id}`)).body.status;
  return { id, run, tenant, call, api, status, object: env.RUN_DO.getByName(id) };
}

const lastStatusEvent = async (object: DurableObjectStub<RunDO>) =>
  ((await object.eventsSince(0)) as { type: string; data: any }[]).filter((event) => event.type === "status").at(-1)!
    .data;

describe("a run waiting on waitpoints", () => {
  it("resumes only after both of its tokens complete, with their outputs", async () => {
    const { call, api, status, object } = await executingRun();
    const a = (await api.json("POST", "/api/v1/waitpoints/tokens", {})).body.id;
    const b = (await api.json("POST", "/api/v1/waitpoints/tokens", {})).body.id;

    const waited = await call("wait", { tokens: [a, b] });
    expect(waited).toMatchObject({ status: 200, body: { status: "WAITING", seq: expect.any(Number) } });
    expect(await status()).toBe("WAITING");

    await api.json("POST", `/api/v1/waitpoints/tokens/${a}/complete`, { data: { url: "https://preview-1.example" } });
    expect(await status()).toBe("WAITING");
    await api.json("POST", `/api/v1/waitpoints/tokens/${b}/complete`, { data: "ready" });
    expect(await status()).toBe("EXECUTING");

    const resumed = await lastStatusEvent(object);
    expect(resumed.status).toBe("EXECUTING");
    expect(resumed.resumedBy).toEqual([
      expect.objectContaining({ id: a, status: "COMPLETED", output: { url: "https://preview-1.example" } }),
      expect.objectContaining({ id: b, status: "COMPLETED", output: "ready" }),
    ]);
  });

  it("does not wait for a token that is already complete", async () => {
    const { call, api } = await executingRun();
    const token = (await api.json("POST", "/api/v1/waitpoints/tokens", {})).body.id;
    await api.json("POST", `/api/v1/waitpoints/tokens/${token}/complete`, { data: 7 });
    expect((await call("wait", { tokens: [token] })).body).toMatchObject({
      status: "EXECUTING",
      waitpoints: [{ id: token, output: 7 }],
    });
  });

  it("never misses a completion that races the wait", async () => {
    const runs = await Promise.all(Array.from({ length: 8 }, executingRun));
    await Promise.all(
      runs.map(async ({ call, api }) => {
        const token = (await api.json("POST", "/api/v1/waitpoints/tokens", {})).body.id;
        await Promise.all([
          call("wait", { tokens: [token] }),
          api.json("POST", `/api/v1/waitpoints/tokens/${token}/complete`, { data: 1 }),
        ]);
      }),
    );
    expect(await Promise.all(runs.map(({ status }) => status()))).toEqual(runs.map(() => "EXECUTING"));
  });

  it("times a token out from the run's alarm and resumes it with { ok: false }", async () => {
    const { call, api, status, object } = await executingRun();
    const { id: token } = (await api.json("POST", "/api/v1/waitpoints/tokens", { timeout: "5s" })).body;
    const { waitpoints } = (await call("wait", { tokens: [token] })).body;
    // The alarm is set for the token's timeout, and heartbeats (which push the watchdog back) leave it there.
    const alarm = await runInDurableObject(object, (_instance: RunDO, state) => state.storage.getAlarm());
    expect(alarm).toBe(Date.parse(waitpoints[0].timeoutAt));
    expect(alarm).toBeLessThan(Date.now() + loadConfig(env).HEARTBEAT_TIMEOUT_MS);
    await call("heartbeat");
    expect(await runInDurableObject(object, (_instance: RunDO, state) => state.storage.getAlarm())).toBe(alarm);

    await updateWaitpointRow(token.slice("waitpoint_".length), { timeoutAt: new Date(Date.now() - 1) });
    expect(await runDurableObjectAlarm(object)).toBe(true);
    expect(await status()).toBe("EXECUTING");
    expect((await lastStatusEvent(object)).resumedBy).toEqual([
      expect.objectContaining({ id: token, status: "TIMED_OUT", output: { ok: false } }),
    ]);
  });

  it("waits until a point in time, woken by its alarm", async () => {
    const { call, status, object } = await executingRun();
    const waited = await call("wait", { until: "1h" });
    expect(waited.body).toMatchObject({ status: "WAITING", waitpoints: [{ type: "DATETIME", status: "WAITING" }] });
    expect(await runDurableObjectAlarm(object)).toBe(true); // the heartbeat deadline: nothing is due
    expect(await status()).toBe("WAITING");

    await updateWaitpointRow(waited.body.waitpoints[0].id.slice("waitpoint_".length), {
      completeAfter: new Date(Date.now() - 1),
    });
    expect(await runDurableObjectAlarm(object)).toBe(true);
    expect(await status()).toBe("EXECUTING");
  });

  it("lets a parent wait on a child run and on a batch, and resume with their results", async () => {
    const parent = await executingRun();
    const child = await parent.api.json("POST", "/api/v1/tasks/http-check/trigger", {
      ...httpCheck(`${siteUrl}/slow?ms=300`),
      options: { parentRunId: parent.id },
    });
    expect((await parent.call("wait", { runs: [child.body.id] })).body.status).toMatch(/WAITING|EXECUTING/);
    await waitForRun(parent.api, parent.id, (run) => run.status === "EXECUTING");
    expect((await lastStatusEvent(parent.object)).resumedBy[0].output).toMatchObject({
      ok: true,
      id: child.body.id,
      status: "COMPLETED",
    });

    const batch = await parent.api.json("POST", "/api/v1/tasks/batch", {
      parentRunId: parent.id,
      items: [
        { task: "http-check", ...httpCheck(`${siteUrl}/ok`) },
        { task: "http-check", ...httpCheck(`${siteUrl}/status/500`) },
      ],
    });
    expect(batch.status).toBe(201);
    await parent.call("wait", { batch: batch.body.id });
    await waitForRun(parent.api, parent.id, (run) => run.status === "EXECUTING");
    const { output } = (await lastStatusEvent(parent.object)).resumedBy[0];
    expect(output.ok).toBe(false);
    expect(output.runs.map((run: { status: string }) => run.status)).toEqual(["COMPLETED", "FAILED"]);
  });

  it("refuses what it cannot wait on", async () => {
    const { call, api } = await executingRun();
    const stranger = client((await createTenant()).apiKey);
    const foreignToken = (await stranger.json("POST", "/api/v1/waitpoints/tokens", {})).body.id;
    expect((await call("wait", { tokens: [foreignToken] })).status).toBe(404);
    const unrelated = await api.json("POST", "/api/v1/tasks/http-check/trigger", httpCheck(`${siteUrl}/ok`));
    expect((await call("wait", { runs: [unrelated.body.id] })).status).toBe(404);
    expect((await call("wait", {})).status).toBe(422);
    expect((await call("wait", { tokens: ["not-an-id"] })).status).toBe(400);

    await call("complete", { status: "COMPLETED" });
    const token = (await api.json("POST", "/api/v1/waitpoints/tokens", {})).body.id;
    expect((await call("wait", { tokens: [token] })).status).toBe(409);
  });

  it("creates tokens for its run, deduplicated by idempotency key like the API's", async () => {
    const { call, api } = await executingRun();
    const made = await call("tokens", { idempotencyKey: "preview-ready", timeout: "5m" });
    expect(made).toMatchObject({
      status: 201,
      body: { id: expect.stringMatching(/^waitpoint_/), url: expect.stringContaining("/callback/") },
    });
    expect(
      (await api.json("POST", "/api/v1/waitpoints/tokens", { idempotencyKey: "preview-ready" })).body,
    ).toMatchObject({
      id: made.body.id,
      isCached: true,
    });
  });
});
