/** The executor's endpoints: one claim per attempt, heartbeats, events, results, and the watchdog. */
import { env, runDurableObjectAlarm } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { loadConfig } from "../../worker/config.ts";
import { client, createTenant, recordPendingRun, siteUrl, updateRunRow, waitForRun } from "./support.ts";

const browserCase = { case: { name: "home", steps: [{ action: "goto", url: "/" }] }, baseUrl: siteUrl };

/** A recorded, undispatched browser-case run, and a caller of its executor endpoints. */
async function pendingRun(maxAttempts = 2) {
  const { friendlyId: id, run: record, tenant, token } = await recordPendingRun("browser-case", browserCase, { maxAttempts });
  const call = (path: string, body?: unknown, bearer = token) =>
    exports.default.fetch(`http://flightcheck/internal/runs/${id}/${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${bearer}`, "content-type": "application/json" },
      body: body === undefined || typeof body === "string" ? body : JSON.stringify(body),
    });
  return { id, record, tenant, token, call, api: client(tenant.apiKey) };
}

/** Makes the run's last heartbeat older than the watchdog allows. */
const silence = (runId: string) => updateRunRow(runId, { lastHeartbeatAt: new Date(Date.now() - loadConfig(env).HEARTBEAT_TIMEOUT_MS - 1_000) });

describe("/internal/runs/:runId", () => {
  it("lets one claimer have each attempt, then takes heartbeats, events and the result", async () => {
    const { id, call, api } = await pendingRun();
    const claims = await Promise.all([call("claim", { attempt: 1 }), call("claim", { attempt: 1 })]);
    expect(claims.map((r) => r.status).sort()).toEqual([200, 409]);
    expect(await (await call("claim", { attempt: 1 })).json()).toMatchObject({ status: 409 });

    expect((await call("heartbeat")).status).toBe(204);
    expect((await call("events", { events: [{ type: "log", data: { message: "navigated" } }] })).status).toBe(204);
    const events = (await env.RUN_DO.getByName(id).eventsSince(0)) as { type: string }[];
    expect(events.map((e) => e.type)).toEqual(["status", "log"]);

    expect((await call("complete", { status: "COMPLETED", output: { passed: 1 } })).status).toBe(200);
    expect((await api.json("GET", `/api/v1/runs/${id}`)).body).toMatchObject({ status: "COMPLETED", attempt: 1, output: { passed: 1 } });
    expect((await call("heartbeat")).status).toBe(409); // finished: the claimer stops
  });

  it("retries a retryable failure while attempts remain, and fails it after", async () => {
    const { id, call, api } = await pendingRun(2);
    await call("claim", { attempt: 1 });
    expect(await (await call("complete", { status: "FAILED", error: { message: "net::ERR_CONNECTION_RESET" }, retryable: true })).json()).toMatchObject({
      status: "PENDING",
      attempt: 1,
    });
    await waitForRun(api, id, (run) => run.status === "DEQUEUED" || run.status === "PENDING");
    expect((await call("claim", { attempt: 2 })).status).toBe(200);
    await call("complete", { status: "FAILED", error: { message: "still down" }, retryable: true });
    expect((await api.json("GET", `/api/v1/runs/${id}`)).body).toMatchObject({ status: "FAILED", attempt: 2 });
  });

  it("retries a run whose heartbeat stopped, then CRASHES it after maxAttempts", async () => {
    const { id, record, call, api } = await pendingRun(2);
    const object = env.RUN_DO.getByName(id);
    await call("claim", { attempt: 1 });
    await silence(record.id);
    expect(await runDurableObjectAlarm(object)).toBe(true);
    await vi.waitFor(async () => expect((await api.json("GET", `/api/v1/runs/${id}`)).body.status).not.toBe("EXECUTING"));

    await waitForRun(api, id, (run) => run.status === "DEQUEUED" || run.status === "PENDING");
    expect((await call("claim", { attempt: 2 })).status).toBe(200);
    await silence(record.id);
    expect(await runDurableObjectAlarm(object)).toBe(true);
    expect((await api.json("GET", `/api/v1/runs/${id}`)).body).toMatchObject({ status: "CRASHED", attempt: 2 });
  });

  it("dispatches again, as the same attempt, a job whose executor went silent before claiming it", async () => {
    const { id, record, call, api } = await pendingRun();
    await env.RUN_DO.getByName(id).setStatus(record.id, "PENDING"); // as its dispatch did
    await updateRunRow(record.id, { status: "DEQUEUED" });
    expect((await call("heartbeat")).status).toBe(204); // a backlog job is heartbeated like a running one
    await silence(record.id);
    expect(await runDurableObjectAlarm(env.RUN_DO.getByName(id))).toBe(true);
    await waitForRun(api, id, (run) => run.status === "DEQUEUED" || run.status === "PENDING");
    expect((await call("claim", { attempt: 1 })).status).toBe(200);
  });

  it("keeps a run with fresh heartbeats alive through its alarm", async () => {
    const { id, call, api } = await pendingRun();
    await call("claim", { attempt: 1 });
    expect(await runDurableObjectAlarm(env.RUN_DO.getByName(id))).toBe(true);
    expect((await api.json("GET", `/api/v1/runs/${id}`)).body.status).toBe("EXECUTING");
  });

  it("keeps each attempt's step results and a failed step's screenshot, readable only in the run's environment", async () => {
    const { id, call, api, token } = await pendingRun();
    await call("claim", { attempt: 1 });
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]);
    const upload = await exports.default.fetch(`http://flightcheck/internal/runs/${id}/artifacts/failure.png`, {
      method: "PUT",
      headers: { authorization: `Bearer ${token}`, "content-type": "image/png" },
      body: png,
    });
    expect(upload.status).toBe(201);
    const { key, url } = (await upload.json()) as { key: string; url: string };
    const steps = [
      { index: 0, action: "goto", label: "open home", status: "PASSED", durationMs: 120 },
      { index: 1, action: "expectText", status: "FAILED", durationMs: 5_000, error: 'expected "Welcome"', screenshotKey: key },
    ];
    expect((await call("complete", { status: "FAILED", error: { message: 'expected "Welcome"' }, steps })).status).toBe(200);

    const run = (await api.json("GET", `/api/v1/runs/${id}`)).body;
    expect(run).toMatchObject({ status: "FAILED" });
    expect(run.steps).toEqual([
      expect.objectContaining({ attempt: 1, index: 0, action: "goto", label: "open home", status: "PASSED", screenshotUrl: null }),
      expect.objectContaining({ attempt: 1, index: 1, status: "FAILED", error: 'expected "Welcome"', screenshotUrl: url }),
    ]);
    const image = await api.request("GET", url);
    expect(image.headers.get("content-type")).toBe("image/png");
    expect(new Uint8Array(await image.arrayBuffer())).toEqual(png);
    const stranger = client((await createTenant()).apiKey);
    expect((await stranger.request("GET", url)).status).toBe(404);
    expect((await api.request("GET", `/api/v1/runs/${id}/artifacts/1/..%2Fsecret`)).status).toBe(404);
  });

  it("refuses a step report that points at another run's artifact, and a bad artifact name", async () => {
    const one = await pendingRun();
    const two = await pendingRun();
    await one.call("claim", { attempt: 1 });
    const foreign = `runs/${two.id}/artifacts/1/failure.png`;
    const report = { status: "FAILED", steps: [{ index: 0, action: "goto", status: "FAILED", screenshotKey: foreign }] };
    expect((await one.call("complete", report)).status).toBe(422);
    const badName = await exports.default.fetch(`http://flightcheck/internal/runs/${one.id}/artifacts/.hidden`, {
      method: "PUT",
      headers: { authorization: `Bearer ${one.token}` },
      body: "x",
    });
    expect(badName.status).toBe(422);
  });

  it("dispatches again a job its executor gives back unstarted", async () => {
    const { id, record, call, api } = await pendingRun();
    expect((await call("release")).status).toBe(409); // PENDING: not in an executor's hands
    await updateRunRow(record.id, { status: "DEQUEUED" });
    expect((await call("release")).status).toBe(204);
    await waitForRun(api, id, (run) => run.status === "DEQUEUED" || run.status === "PENDING");
    expect((await call("claim", { attempt: 1 })).status).toBe(200);
  });

  it("refuses another run's token, a forged token and malformed bodies", async () => {
    const one = await pendingRun();
    const two = await pendingRun();
    expect((await one.call("claim", { attempt: 1 }, two.token)).status).toBe(401);
    expect((await one.call("claim", { attempt: 1 }, `${one.token}x`)).status).toBe(401);
    expect((await one.call("claim", { attempt: 0 })).status).toBe(422);
    expect((await one.call("events", { events: [{ type: "shout", data: {} }] })).status).toBe(422);
    expect((await one.call("complete", "{")).status).toBe(400);
    const bad = await exports.default.fetch("http://flightcheck/internal/runs/nope/claim", { method: "POST" });
    expect(bad.status).toBe(400);
  });
});
