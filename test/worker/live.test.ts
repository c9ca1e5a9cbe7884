/** Watching a run live: a snapshot, then ordered events; replay with ?since; across eviction; 500 subscribers. */
import { env, evictDurableObject } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { parseFriendlyId } from "../../worker/store/ids.ts";
import { signToken } from "../../worker/runs/tokens.ts";
import { client, createTenant, executorCalls, recordPendingRun, siteUrl, updateRunRow, waitForRun } from "./support.ts";

interface Subscriber {
  messages: any[];
  closed: Promise<number>;
  socket: WebSocket;
}

async function subscribe(path: string, headers: Record<string, string> = {}): Promise<Subscriber> {
  const response = await exports.default.fetch(`http://flightcheck${path}`, {
    headers: { upgrade: "websocket", ...headers },
  });
  const socket = response.webSocket;
  if (!socket) throw new Error(`no WebSocket: HTTP ${response.status} ${await response.text()}`);
  const messages: any[] = [];
  const closed = new Promise<number>((resolve) => socket.addEventListener("close", (event) => resolve(event.code)));
  socket.addEventListener("message", (event) => messages.push(JSON.parse(event.data as string)));
  socket.accept();
  return { messages, closed, socket };
}

const delayed = { payload: { url: `${siteUrl}/ok` }, options: { delay: "1h" } };

describe("GET /api/v1/runs/:runId/live", () => {
  it("sends a snapshot, every event after it, and closes after the final one", async () => {
    const api = client((await createTenant()).apiKey);
    const { body } = await api.json("POST", "/api/v1/tasks/http-check/trigger", {
      payload: { url: `${siteUrl}/slow?ms=300` },
    });
    const live = await subscribe(`/api/v1/runs/${body.id}/live?token=${body.publicAccessToken}`);
    expect(await live.closed).toBe(1000);
    expect(live.messages[0]).toMatchObject({ type: "snapshot" });
    const statuses = live.messages.filter((m) => m.type === "status").map((m) => m.data.status);
    expect(statuses.at(-1)).toBe("COMPLETED");
    expect(statuses).toEqual(expect.arrayContaining(["PENDING", "EXECUTING", "COMPLETED"]));
    const seqs = live.messages.slice(1).map((m) => m.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    await waitForRun(api, body.id);
  });

  it("replays exactly the events after ?since, also after the object was evicted", async () => {
    const api = client((await createTenant()).apiKey);
    const { body } = await api.json("POST", "/api/v1/tasks/http-check/trigger", delayed);
    const stub = env.RUN_DO.getByName(body.id);
    await vi.waitFor(async () => expect((await stub.snapshot()).lastSeq).toBe(1));
    const first = await subscribe(`/api/v1/runs/${body.id}/live?token=${body.publicAccessToken}`);
    await stub.append("log", { message: "one" });
    await stub.append("log", { message: "two" });
    await vi.waitFor(() => expect(first.messages).toHaveLength(4));
    first.socket.close(1000);

    await evictDurableObject(stub);
    await stub.append("log", { message: "three" });
    const again = await subscribe(`/api/v1/runs/${body.id}/live?token=${body.publicAccessToken}&since=3`);
    await vi.waitFor(() => expect(again.messages).toHaveLength(2));
    expect(again.messages[1]).toMatchObject({ seq: 4, type: "log", data: { message: "three" } });
    again.socket.close(1000);
  });

  it("repairs a final status the object never heard (a crash between the store write and the object)", async () => {
    const api = client((await createTenant()).apiKey);
    const { body } = await api.json("POST", "/api/v1/tasks/http-check/trigger", delayed);
    const stub = env.RUN_DO.getByName(body.id);
    await vi.waitFor(async () => expect((await stub.snapshot()).status).toBe("DELAYED"));
    await updateRunRow(parseFriendlyId("run", body.id).id, { status: "CANCELED" });

    const live = await subscribe(`/api/v1/runs/${body.id}/live?token=${body.publicAccessToken}`);
    expect(await live.closed).toBe(1000);
    expect(live.messages.at(-1)).toMatchObject({ type: "status", data: { status: "CANCELED", repaired: true } });
    expect((await stub.snapshot()).status).toBe("CANCELED");
  });

  it("keeps hibernated subscribers across eviction", async () => {
    const api = client((await createTenant()).apiKey);
    const { body } = await api.json("POST", "/api/v1/tasks/http-check/trigger", delayed);
    const live = await subscribe(`/api/v1/runs/${body.id}/live?token=${body.publicAccessToken}`);
    const stub = env.RUN_DO.getByName(body.id);
    await evictDurableObject(stub);
    await stub.append("log", { message: "after eviction" });
    await vi.waitFor(() =>
      expect(live.messages.at(-1)).toMatchObject({ type: "log", data: { message: "after eviction" } }),
    );
    live.socket.close(1000);
  });

  it("delivers each event to all of 500 subscribers", { timeout: 60_000 }, async () => {
    const api = client((await createTenant()).apiKey);
    const { body } = await api.json("POST", "/api/v1/tasks/http-check/trigger", delayed);
    // Connected 100 at a time: each upgrade briefly holds database connections, and other test files run
    // beside this one on the same server.
    const subscribers: Subscriber[] = [];
    for (let i = 0; i < 5; i++) {
      subscribers.push(
        ...(await Promise.all(
          Array.from({ length: 100 }, () => subscribe(`/api/v1/runs/${body.id}/live?token=${body.publicAccessToken}`)),
        )),
      );
    }
    const stub = env.RUN_DO.getByName(body.id);
    for (let i = 0; i < 3; i++) await stub.append("log", { message: `event ${i}` });
    await vi.waitFor(
      () => expect(subscribers.every((s) => s.messages.filter((m) => m.type === "log").length === 3)).toBe(true),
      {
        timeout: 20_000,
      },
    );
    expect((await api.json("POST", `/api/v1/runs/${body.id}/cancel`)).status).toBe(200);
    expect(new Set(await Promise.all(subscribers.map((s) => s.closed)))).toEqual(new Set([1000]));
  });

  it("lets a secret key subscribe; refuses a wrong token, another run's token, a foreign key, plain HTTP", async () => {
    const tenant = await createTenant();
    const api = client(tenant.apiKey);
    const stranger = await createTenant();
    const one = (await api.json("POST", "/api/v1/tasks/http-check/trigger", delayed)).body;
    const two = (await api.json("POST", "/api/v1/tasks/http-check/trigger", delayed)).body;
    const path = `/api/v1/runs/${one.id}/live`;
    const keyed = await subscribe(path, { authorization: `Bearer ${tenant.apiKey}` });
    await vi.waitFor(() => expect(keyed.messages[0]).toMatchObject({ type: "snapshot", status: "DELAYED" }));
    keyed.socket.close(1000);

    const status = async (url: string, headers: Record<string, string> = { upgrade: "websocket" }) =>
      (await exports.default.fetch(`http://flightcheck${url}`, { headers })).status;
    expect(await status(`${path}?token=${one.publicAccessToken.slice(0, -2)}xx`)).toBe(401);
    expect(await status(`${path}?token=${two.publicAccessToken}`)).toBe(401);
    expect(await status(path)).toBe(401);
    expect(await status(path, { upgrade: "websocket", authorization: `Bearer ${stranger.apiKey}` })).toBe(404);
    expect(await status(`${path}?token=${one.publicAccessToken}`, {})).toBe(426);
    expect(await status(`${path}?token=${one.publicAccessToken}&since=-1`)).toBe(422);
    expect(await status("/api/v1/runs/run_nope/live?token=x")).toBe(400);
  });
});

describe("GET /api/v1/batches/:batchId/live", () => {
  it("streams each item's status changes and closes when the last item ends", async () => {
    const api = client((await createTenant()).apiKey);
    const items = [`${siteUrl}/slow?ms=200`, `${siteUrl}/status/500`].map((url) => ({
      task: "http-check",
      payload: { url },
    }));
    const { body } = await api.json("POST", "/api/v1/tasks/batch", { items });
    const live = await subscribe(`/api/v1/batches/${body.id}/live?token=${body.publicAccessToken}`);
    expect(await live.closed).toBe(1000);
    const finals = live.messages.filter(
      (m) => m.type === "status" && ["COMPLETED", "FAILED"].includes(m.data.status) && m.data.runId,
    );
    expect(Object.fromEntries(finals.map((m) => [m.data.runId, m.data.status]))).toEqual({
      [body.runs[0]]: "COMPLETED",
      [body.runs[1]]: "FAILED",
    });
    expect(live.messages.at(-1)).toMatchObject({ type: "status", data: { status: "COMPLETED" } });
  });
});

describe("what a browser's token sees", () => {
  const browserCase = { case: { name: "gated", steps: [{ action: "goto", url: "/" }] }, baseUrl: siteUrl };
  const tokenFor = (scope: "public" | "page", sub: string, environmentId: string) =>
    signToken(env.SIGNING_SECRET, { scope, sub, env: environmentId }, 600);

  it("public and page tokens get no waitpoint outputs, live or replayed; the key and the executor do", async () => {
    const { friendlyId: id, tenant, token } = await recordPendingRun("browser-case", browserCase);
    const executor = executorCalls(id, token);
    expect((await executor("claim", { attempt: 1 })).status).toBe(200);
    const api = client(tenant.apiKey);
    const gate = (await api.json("POST", "/api/v1/waitpoints/tokens", {})).body.id;
    expect((await executor("wait", { tokens: [gate] })).body.status).toBe("WAITING");

    const path = `/api/v1/runs/${id}/live`;
    const [publicLive, pageLive, keyed, executorLive] = await Promise.all([
      subscribe(`${path}?token=${await tokenFor("public", id, tenant.environmentId)}`),
      subscribe(`${path}?token=${await tokenFor("page", id, tenant.environmentId)}`),
      subscribe(path, { authorization: `Bearer ${tenant.apiKey}` }),
      subscribe(`${path}?token=${token}`),
    ]);
    await api.json("POST", `/api/v1/waitpoints/tokens/${gate}/complete`, {
      data: { previewPassword: "s3cret-output" },
    });
    const resumed = (live: Subscriber) => live.messages.find((message) => message.data?.resumedBy);
    const everyone = [publicLive, pageLive, keyed, executorLive];
    await vi.waitFor(() => {
      for (const live of everyone) expect(resumed(live)).toBeDefined();
    });

    for (const live of [keyed, executorLive]) {
      expect(resumed(live).data.resumedBy[0].output).toEqual({ previewPassword: "s3cret-output" });
    }
    const replayed = await subscribe(`${path}?token=${await tokenFor("public", id, tenant.environmentId)}`);
    await vi.waitFor(() => expect(resumed(replayed)).toBeDefined());
    for (const live of [publicLive, pageLive, replayed]) {
      expect(resumed(live).data.resumedBy[0]).toMatchObject({ id: gate, status: "COMPLETED" });
      expect(JSON.stringify(live.messages)).not.toContain("s3cret-output");
    }
    for (const live of [...everyone, replayed]) live.socket.close(1000);
  });

  it("gives a page token on a finished run its snapshot and the close, with no replay", async () => {
    const tenant = await createTenant();
    const api = client(tenant.apiKey);
    const { body } = await api.json("POST", "/api/v1/tasks/http-check/trigger", delayed);
    expect((await api.json("POST", `/api/v1/runs/${body.id}/cancel`)).status).toBe(200);

    const pageToken = await tokenFor("page", body.id, tenant.environmentId);
    const page = await subscribe(`/api/v1/runs/${body.id}/live?token=${pageToken}`);
    expect(await page.closed).toBe(1000);
    expect(page.messages).toEqual([expect.objectContaining({ type: "snapshot", status: "CANCELED" })]);
    // The token returned at trigger time still replays the run's events.
    const publicLive = await subscribe(`/api/v1/runs/${body.id}/live?token=${body.publicAccessToken}`);
    expect(await publicLive.closed).toBe(1000);
    expect(publicLive.messages.filter((message) => message.type === "status").length).toBeGreaterThan(0);
  });
});
