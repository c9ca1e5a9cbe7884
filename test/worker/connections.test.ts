/**
 * What a request costs the databases, and how long a revoked key keeps working. Connections are counted by a
 * proxy that only this file's requests go through, per database and for the whole unit of work (the response
 * and its waitUntil work); RunDOs and the queue consumer use the shared proxy and are not counted.
 */
import { describe, expect, inject, it, vi } from "vitest";
import { type Client, client, createTenant, httpCheck, siteUrl, withLegacyDatabase } from "./support.ts";

const countingProxy = inject("countingProxyUrl");
const databases = {
  legacy: new URL(inject("legacyDatabaseUrl")).pathname.slice(1),
  runops: new URL(inject("runopsDatabaseUrl")).pathname.slice(1),
};

async function proxySessions(): Promise<{ byDatabase: Record<string, number>; open: number }> {
  const response = await fetch(`${countingProxy.replace(/^ws/, "http")}/sessions`);
  return (await response.json()) as { byDatabase: Record<string, number>; open: number };
}

/**
 * Per database, the sessions opened since none was open: waiting for every connection to close takes in the
 * request's waitUntil work and keeps an earlier request's late work out of the count.
 */
async function sessionsByDatabase(): Promise<Record<string, number>> {
  return vi.waitFor(
    async () => {
      const { byDatabase, open } = await proxySessions();
      expect(open).toBe(0);
      return byDatabase;
    },
    { timeout: 60_000, interval: 20 },
  );
}

/** The request's status and the connections it opened to each database. */
async function connectionsOf(send: () => Promise<Response>) {
  const before = await sessionsByDatabase();
  const response = await send();
  await response.arrayBuffer();
  const after = await sessionsByDatabase();
  const opened = (name: string) => (after[name] ?? 0) - (before[name] ?? 0);
  return { status: response.status, legacy: opened(databases.legacy), runops: opened(databases.runops) };
}

/** A new tenant's client through the counting proxy: its first request looks its key up (no cached auth). */
async function countedClient(): Promise<Client> {
  const { apiKey } = await createTenant();
  return client(apiKey, { DATABASE_WS_PROXY: countingProxy });
}

const trigger = (body: unknown = httpCheck(`${siteUrl}/ok`)) =>
  ["POST", "/api/v1/tasks/http-check/trigger", body] as const;

describe("connections per request", () => {
  it.each([
    ["a trigger (split on: the run goes to run-ops)", trigger()],
    ["a trigger with an idempotency key", trigger({ ...httpCheck(`${siteUrl}/ok`), options: { idempotencyKey: "k" } })],
    ["a list (both stores)", ["GET", "/api/v1/runs?limit=5"]],
    ["a token (legacy)", ["POST", "/api/v1/waitpoints/tokens", {}]],
  ] as const)("opens at most one per database, key lookup included: %s", async (_, [method, path, body]) => {
    const api = await countedClient();
    const opened = await connectionsOf(() => api.request(method, path, body));
    expect(opened.status).toBeLessThan(300);
    expect(opened.legacy + opened.runops).toBeGreaterThan(0);
    expect(opened.legacy).toBeLessThanOrEqual(1);
    expect(opened.runops).toBeLessThanOrEqual(1);
  });

  // Its items are dispatched together: one sendBatch, and one statement marks them all dispatched.
  it("opens at most one per database: a batch of three", async () => {
    const api = await countedClient();
    const items = [1, 2, 3].map(() => ({ task: "http-check", ...httpCheck(`${siteUrl}/ok`) }));
    const opened = await connectionsOf(() => api.request("POST", "/api/v1/tasks/batch", { items }));
    expect(opened.status).toBe(201);
    expect(opened.legacy).toBeLessThanOrEqual(1);
    expect(opened.runops).toBeLessThanOrEqual(1);
  });

  it("opens at most one per database to read and cancel a run, and none to look a cached key up", async () => {
    const api = await countedClient();
    // Delayed, so it is still there to cancel.
    const [method, path, body] = trigger({ ...httpCheck(`${siteUrl}/ok`), options: { delay: "1h" } });
    const { body: run } = await api.json(method, path, body);
    for (const [verb, runPath] of [
      ["GET", `/api/v1/runs/${run.id}`],
      ["POST", `/api/v1/runs/${run.id}/cancel`],
    ]) {
      const opened = await connectionsOf(() => api.request(verb!, runPath!));
      expect(opened).toEqual({ status: 200, legacy: expect.any(Number), runops: 1 });
      expect(opened.legacy).toBeLessThanOrEqual(1);
    }
    // A run-ops read with the key cached never touches the control plane.
    expect(await connectionsOf(() => api.request("GET", `/api/v1/runs/${run.id}`))).toEqual({
      status: 200,
      legacy: 0,
      runops: 1,
    });
  });
});

describe("a revoked key", () => {
  it("is refused once its cache entry expires (AUTH_CACHE_TTL_MS), and served from the cache until then", async () => {
    const ttlMs = 2_000;
    const { apiKey, environmentId } = await createTenant();
    const api = client(apiKey, { AUTH_CACHE_TTL_MS: String(ttlMs) });
    const cachedFrom = Date.now();
    expect((await api.request("GET", "/api/v1/runs")).status).toBe(200);
    await withLegacyDatabase((_, pool) =>
      pool.query("update environments set api_key_hash = 'revoked:' || id where id = $1", [environmentId]),
    );
    // The entry was made after `cachedFrom`, so it holds at least until `cachedFrom + ttlMs`: a request sent
    // before then is answered from it (on a slow machine the revocation itself may outlast the entry).
    const sentAt = Date.now();
    const cached = await api.request("GET", "/api/v1/runs");
    if (sentAt < cachedFrom + ttlMs) expect(cached.status).toBe(200);
    await vi.waitFor(async () => expect((await api.request("GET", "/api/v1/runs")).status).toBe(401), {
      timeout: 30_000,
      interval: 100,
    });
    expect(Date.now()).toBeGreaterThanOrEqual(cachedFrom + ttlMs);
  });
});
