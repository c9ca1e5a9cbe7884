/** The executor's endpoints: one claim per attempt, heartbeats, events, results, and the watchdog. */
import { env, runDurableObjectAlarm } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { MAX_ARTIFACT_BYTES, MAX_ARTIFACTS_PER_ATTEMPT, MAX_RECORDING_BYTES } from "../../schema/contracts.ts";
import { loadConfig } from "../../worker/config.ts";
import { signToken } from "../../worker/runs/tokens.ts";
import { client, createTenant, executorToken, recordPendingRun, siteUrl, updateRunRow, waitForRun } from "./support.ts";

const browserCase = { case: { name: "home", steps: [{ action: "goto", url: "/" }] }, baseUrl: siteUrl };

/** A recorded, undispatched browser-case run, and a caller of its executor endpoints. */
async function pendingRun(maxAttempts = 2) {
  const {
    friendlyId: id,
    run: record,
    tenant,
    token,
  } = await recordPendingRun("browser-case", browserCase, { maxAttempts });
  const call = (path: string, body?: unknown, bearer = token) =>
    exports.default.fetch(`http://flightcheck/internal/runs/${id}/${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${bearer}`, "content-type": "application/json" },
      body: body === undefined || typeof body === "string" ? body : JSON.stringify(body),
    });
  /** The calls of the executor holding the dispatch of `attempt` (attempt 1's token is `token`). */
  const executorOf = async (attempt: number) => {
    const bearer = await executorToken(id, tenant.environmentId, attempt);
    return (path: string, body?: unknown) => call(path, body, bearer);
  };
  return { id, record, tenant, token, call, executorOf, api: client(tenant.apiKey) };
}

/** Makes the run's last heartbeat older than the watchdog allows. */
const silence = (runId: string) =>
  updateRunRow(runId, { lastHeartbeatAt: new Date(Date.now() - loadConfig(env).HEARTBEAT_TIMEOUT_MS - 1_000) });

describe("/internal/runs/:runId", () => {
  it("lets one claimer have each attempt, then takes heartbeats, events and the result", async () => {
    const { id, call, api } = await pendingRun();
    const claims = await Promise.all([call("claim", { attempt: 1 }), call("claim", { attempt: 1 })]);
    expect(claims.map((r) => r.status).sort()).toEqual([200, 409]);
    expect(await (await call("claim", { attempt: 1 })).json()).toMatchObject({ status: 409 });

    expect((await call("heartbeat")).status).toBe(204);
    expect((await call("events", { events: [{ type: "log", data: { message: "navigated" } }] })).status).toBe(204);
    const events = (await env.RUN_DO.getByName(id).eventsSince(0)) as { type: string; data: { status?: string } }[];
    // The log as a dispatch starts it (the claim writes the PENDING a fresh object missed), then the claim's.
    expect(events.map((e) => e.data.status ?? e.type)).toEqual(["PENDING", "EXECUTING", "log"]);

    expect((await call("complete", { status: "COMPLETED", output: { passed: 1 } })).status).toBe(200);
    expect((await api.json("GET", `/api/v1/runs/${id}`)).body).toMatchObject({
      status: "COMPLETED",
      attempt: 1,
      output: { passed: 1 },
    });
    expect((await call("heartbeat")).status).toBe(409); // finished: the claimer stops
  });

  it("retries a retryable failure while attempts remain, and fails it after", async () => {
    const { id, call, executorOf, api } = await pendingRun(2);
    await call("claim", { attempt: 1 });
    expect(
      await (
        await call("complete", { status: "FAILED", error: { message: "net::ERR_CONNECTION_RESET" }, retryable: true })
      ).json(),
    ).toMatchObject({
      status: "PENDING",
      attempt: 1,
    });
    await waitForRun(api, id, (run) => run.status === "DEQUEUED" || run.status === "PENDING");
    const second = await executorOf(2);
    expect((await second("claim", { attempt: 2 })).status).toBe(200);
    await second("complete", { status: "FAILED", error: { message: "still down" }, retryable: true });
    expect((await api.json("GET", `/api/v1/runs/${id}`)).body).toMatchObject({ status: "FAILED", attempt: 2 });
  });

  it("retries a run whose heartbeat stopped, then CRASHES it after maxAttempts", async () => {
    const { id, record, call, executorOf, api } = await pendingRun(2);
    const object = env.RUN_DO.getByName(id);
    await call("claim", { attempt: 1 });
    await silence(record.id);
    expect(await runDurableObjectAlarm(object)).toBe(true);
    await vi.waitFor(async () =>
      expect((await api.json("GET", `/api/v1/runs/${id}`)).body.status).not.toBe("EXECUTING"),
    );

    await waitForRun(api, id, (run) => run.status === "DEQUEUED" || run.status === "PENDING");
    expect((await (await executorOf(2))("claim", { attempt: 2 })).status).toBe(200);
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

  it("fences a superseded attempt: once attempt 2 is claimed, attempt 1's calls get 409, change nothing", async () => {
    const { id, record, call, executorOf, api, token } = await pendingRun(3);
    const object = env.RUN_DO.getByName(id);
    expect((await call("claim", { attempt: 1 })).status).toBe(200);
    await silence(record.id); // attempt 1's executor stalls: the watchdog retries the run
    expect(await runDurableObjectAlarm(object)).toBe(true);
    await waitForRun(api, id, (run) => run.status === "DEQUEUED" || run.status === "PENDING");
    expect((await call("heartbeat")).status).toBe(409); // dispatched for attempt 2: attempt 1 holds nothing
    const second = await executorOf(2);
    expect((await call("claim", { attempt: 2 })).status).toBe(409); // attempt 1's token cannot take attempt 2
    expect((await second("claim", { attempt: 2 })).status).toBe(200);
    expect((await second("events", { events: [{ type: "log", data: { message: "attempt 2" } }] })).status).toBe(204);
    const upload = (bearer: string, body: string) =>
      exports.default.fetch(`http://flightcheck/internal/runs/${id}/artifacts/failure.png`, {
        method: "PUT",
        headers: { authorization: `Bearer ${bearer}`, "content-type": "image/png" },
        body,
      });
    const secondToken = await executorToken(id, record.environmentId, 2);
    const { key } = (await (await upload(secondToken, "attempt 2's screenshot")).json()) as { key: string };
    const before = (await api.json("GET", `/api/v1/runs/${id}`)).body;
    const eventsBefore = await object.eventsSince(0);

    // Attempt 1's executor comes back.
    const attemptOneResult = {
      status: "COMPLETED",
      output: { from: 1 },
      steps: [{ index: 0, action: "goto", status: "PASSED" }],
    };
    const stale = [
      await call("heartbeat"),
      await call("events", { events: [{ type: "log", data: { message: "attempt 1" } }] }),
      await upload(token, "attempt 1's screenshot"),
      await call("tokens", { timeout: "1h" }),
      await call("wait", { until: new Date(Date.now() + 60_000).toISOString() }),
      await call("complete", attemptOneResult),
      await call("release"),
    ];
    for (const response of stale) {
      expect(response.status).toBe(409);
      expect(response.headers.get("content-type")).toBe("application/problem+json");
      expect(await response.json()).toMatchObject({ detail: expect.stringContaining("Attempt 1 no longer holds") });
    }
    const after = (await api.json("GET", `/api/v1/runs/${id}`)).body;
    expect(after).toEqual(before);
    expect(after).toMatchObject({ status: "EXECUTING", attempt: 2, steps: [] });
    expect(await object.eventsSince(0)).toEqual(eventsBefore);
    expect(await (await env.ARTIFACTS.get(key))!.text()).toBe("attempt 2's screenshot");
    expect(
      await env.ARTIFACTS.list({ prefix: key.replace("/artifacts/2/failure.png", "/artifacts/1/") }),
    ).toMatchObject({ objects: [] });

    // Attempt 2 goes on as if nothing happened, and may not point at attempt 1's files.
    const attemptOneKey = key.replace("/artifacts/2/", "/artifacts/1/");
    const foreign = { index: 0, action: "goto", status: "FAILED", screenshotKey: attemptOneKey };
    expect((await second("complete", { status: "FAILED", steps: [foreign] })).status).toBe(422);
    expect((await second("heartbeat")).status).toBe(204);
    const steps = [{ index: 0, action: "goto", status: "FAILED", screenshotKey: key }];
    expect((await second("complete", { status: "FAILED", error: { message: "wrong page" }, steps })).status).toBe(200);
    const final = (await api.json("GET", `/api/v1/runs/${id}`)).body;
    expect(final).toMatchObject({ status: "FAILED", attempt: 2, steps: [{ attempt: 2 }] });
  });

  it("refuses an executor token that names no attempt", async () => {
    const { id, record, call } = await pendingRun();
    const claims = { scope: "executor", sub: id, env: record.environmentId } as const;
    const unfenced = await signToken(env.SIGNING_SECRET, claims, 600);
    expect((await call("claim", { attempt: 1 }, unfenced)).status).toBe(401);
  });

  it("keeps a run with fresh heartbeats alive through its alarm", async () => {
    const { id, call, api } = await pendingRun();
    await call("claim", { attempt: 1 });
    expect(await runDurableObjectAlarm(env.RUN_DO.getByName(id))).toBe(true);
    expect((await api.json("GET", `/api/v1/runs/${id}`)).body.status).toBe("EXECUTING");
  });

  it("keeps each attempt's steps and a failed step's screenshot, readable only in the run's environment", async () => {
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
      {
        index: 1,
        action: "expectText",
        status: "FAILED",
        durationMs: 5_000,
        error: 'expected "Welcome"',
        screenshotKey: key,
      },
    ];
    expect((await call("complete", { status: "FAILED", error: { message: 'expected "Welcome"' }, steps })).status).toBe(
      200,
    );

    const run = (await api.json("GET", `/api/v1/runs/${id}`)).body;
    expect(run).toMatchObject({ status: "FAILED" });
    expect(run.steps).toEqual([
      expect.objectContaining({
        attempt: 1,
        index: 0,
        action: "goto",
        label: "open home",
        status: "PASSED",
        screenshotUrl: null,
      }),
      expect.objectContaining({
        attempt: 1,
        index: 1,
        status: "FAILED",
        error: 'expected "Welcome"',
        screenshotUrl: url,
      }),
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
    const report = {
      status: "FAILED",
      steps: [{ index: 0, action: "goto", status: "FAILED", screenshotKey: foreign }],
    };
    expect((await one.call("complete", report)).status).toBe(422);
    const badName = await exports.default.fetch(`http://flightcheck/internal/runs/${one.id}/artifacts/.hidden`, {
      method: "PUT",
      headers: { authorization: `Bearer ${one.token}` },
      body: "x",
    });
    expect(badName.status).toBe(422);
  });

  it("caps an attempt's artifacts in size and number", async () => {
    const { id, call, token } = await pendingRun();
    await call("claim", { attempt: 1 });
    const upload = (name: string, body: Uint8Array) =>
      exports.default.fetch(`http://flightcheck/internal/runs/${id}/artifacts/${name}`, {
        method: "PUT",
        headers: { authorization: `Bearer ${token}`, "content-type": "image/png" },
        body,
      });
    expect((await upload("huge.png", new Uint8Array(MAX_ARTIFACT_BYTES + 1))).status).toBe(413);
    // A Playwright trace or video may be larger than a screenshot, up to its own cap.
    expect((await upload("trace.zip", new Uint8Array(MAX_ARTIFACT_BYTES + 1))).status).toBe(201);
    expect((await upload("video.webm", new Uint8Array(MAX_RECORDING_BYTES + 1))).status).toBe(413);
    for (let index = 1; index < MAX_ARTIFACTS_PER_ATTEMPT; index++) {
      expect((await upload(`step-${index}.png`, new Uint8Array(8))).status).toBe(201);
    }
    const over = await upload("one-too-many.png", new Uint8Array(8));
    expect(over.status).toBe(422);
    expect(await over.json()).toMatchObject({ title: "Too many artifacts" });
    expect((await upload("step-1.png", new Uint8Array(8))).status).toBe(201); // replacing one is fine
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
