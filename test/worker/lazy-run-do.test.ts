/**
 * A run's RunDO is created only when something needs it: not for an immediate trigger whose run is only
 * queued or dispatched, but for a subscriber, the executor's claim, the hand-over's heartbeat timer; each
 * of those finds the log a dispatch used to start (its PENDING) and what follows.
 */
import { env, listDurableObjectIds, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { loadConfig } from "../../worker/config.ts";
import type { RunEvent } from "../../schema/live.ts";
import { withEngine } from "../../worker/runs/engine.ts";
import { parseFriendlyId } from "../../worker/store/ids.ts";
import {
  client,
  createTenant,
  executorCalls,
  executorToken,
  recordPendingRun,
  siteUrl,
  updateRunRow,
  waitForRun,
  withStore,
} from "./support.ts";

const payload = { url: `${siteUrl}/ok` };

/**
 * A client of a Worker whose signing secret the queue consumer does not share: runs are recorded and dispatched,
 * and the consumer drops their messages as forged, so nothing but the trigger touches them.
 */
const unconsumedClient = (apiKey: string) => client(apiKey, { SIGNING_SECRET: "not-the-consumers-secret-0123456789" });

async function triggerDispatchedOnly(concurrencyLimit = 10, options?: Record<string, unknown>) {
  const tenant = await createTenant(concurrencyLimit);
  const api = unconsumedClient(tenant.apiKey);
  const { status, body } = await api.json("POST", "/api/v1/tasks/http-check/trigger", { payload, options });
  expect(status).toBe(201);
  const { id } = parseFriendlyId("run", body.id);
  return { tenant, friendlyId: body.id as string, run: (await withStore({}, (runs) => runs.loadRun(id)))! };
}

const objectExists = async (friendlyId: string) => {
  const id = env.RUN_DO.idFromName(friendlyId).toString();
  return (await listDurableObjectIds(env.RUN_DO)).some((object) => object.toString() === id);
};

async function loggedStatuses(friendlyId: string): Promise<string[]> {
  const events = (await env.RUN_DO.getByName(friendlyId).eventsSince(0)) as RunEvent[];
  return events.filter((event) => event.type === "status").map((event) => (event.data as { status: string }).status);
}

describe("a run's RunDO, created when needed", () => {
  it("is not created by an immediate trigger whose run is only dispatched, or only queued", async () => {
    const dispatched = await triggerDispatchedOnly();
    expect(dispatched.run).toMatchObject({ status: "PENDING", dispatchedAt: expect.any(Date) });
    const queued = await triggerDispatchedOnly(0);
    expect(queued.run.status).toBe("QUEUED");
    expect(await objectExists(dispatched.friendlyId)).toBe(false);
    expect(await objectExists(queued.friendlyId)).toBe(false);
  });

  it("is created by a delayed trigger, for its alarm", async () => {
    const { friendlyId } = await triggerDispatchedOnly(10, { delay: "1h" });
    expect(await loggedStatuses(friendlyId)).toEqual(["DELAYED"]);
    const alarm = await runInDurableObject(env.RUN_DO.getByName(friendlyId), (_, state) => state.storage.getAlarm());
    expect(alarm).toBeGreaterThan(Date.now());
  });

  it("is not created for a batch's dispatched items, while the batch's object hears each of them", async () => {
    const tenant = await createTenant();
    const items = [
      { task: "http-check", payload },
      { task: "http-check", payload },
    ];
    const { status, body } = await unconsumedClient(tenant.apiKey).json("POST", "/api/v1/tasks/batch", { items });
    expect(status).toBe(201);
    const heard = (await env.BATCH_DO.getByName(body.id).eventsSince(0)) as RunEvent[];
    const pending = body.runs.map((runId: string) => ({ runId, status: "PENDING" }));
    expect(heard.map((event) => event.data)).toEqual(expect.arrayContaining(pending));
    expect(heard).toHaveLength(pending.length);
    for (const runId of body.runs) expect(await objectExists(runId)).toBe(false);
  });

  it("gives a subscriber who connects after the dispatch its PENDING, then every event that follows", async () => {
    const { tenant, friendlyId } = await triggerDispatchedOnly();
    const response = await exports.default.fetch(`http://flightcheck/api/v1/runs/${friendlyId}/live`, {
      headers: { upgrade: "websocket", authorization: `Bearer ${tenant.apiKey}` },
    });
    const socket = response.webSocket!;
    const messages: any[] = [];
    const closed = new Promise<number>((resolve) => socket.addEventListener("close", (event) => resolve(event.code)));
    socket.addEventListener("message", (event) => {
      messages.push(JSON.parse(event.data as string));
    });
    socket.accept();
    await vi.waitFor(() => expect(messages).toHaveLength(2));

    const executor = executorCalls(friendlyId, await executorToken(friendlyId, tenant.environmentId, 1));
    expect((await executor("claim", { attempt: 1 })).status).toBe(200);
    expect((await executor("complete", { status: "COMPLETED", output: { ok: true } })).status).toBe(200);
    expect(await closed).toBe(1000);
    expect(messages[0]).toMatchObject({ type: "snapshot", status: "PENDING" });
    const statuses = messages.filter((m) => m.type === "status").map((m) => m.data.status);
    expect(statuses).toEqual(["PENDING", "EXECUTING", "COMPLETED"]);
  });

  it("is created by the claim: its log starts with the dispatch's PENDING, and its heartbeat is watched", async () => {
    const { friendlyId, token } = await recordPendingRun("http-check", payload);
    expect((await executorCalls(friendlyId, token)("claim", { attempt: 1 })).status).toBe(200);
    expect(await loggedStatuses(friendlyId)).toEqual(["PENDING", "EXECUTING"]);
    const alarm = await runInDurableObject(env.RUN_DO.getByName(friendlyId), (_, state) => state.storage.getAlarm());
    expect(alarm).toEqual(expect.any(Number));
  });

  it("is created by the hand-over's heartbeat timer, whose alarm dispatches again a job gone silent", async () => {
    const { friendlyId, run, tenant } = await recordPendingRun("http-check", payload);
    expect(await withEngine(env, (engine) => engine.handOver(run))).toMatchObject({ status: "DEQUEUED" });
    expect(await loggedStatuses(friendlyId)).toEqual(["PENDING"]);

    const heartbeatTimeout = loadConfig(env).HEARTBEAT_TIMEOUT_MS;
    await updateRunRow(run.id, { lastHeartbeatAt: new Date(Date.now() - heartbeatTimeout - 1_000) });
    expect(await runDurableObjectAlarm(env.RUN_DO.getByName(friendlyId))).toBe(true);
    // Dispatched again, the real queue hands it to the consumer, which runs the check.
    expect((await waitForRun(client(tenant.apiKey), friendlyId)).status).toBe("COMPLETED");
  });
});
