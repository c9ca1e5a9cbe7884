/**
 * The edge of the API under abuse: keys refused before any database connection, rate limits answered 429
 * with Retry-After, store failures answered without the driver's words, durations capped, and the token
 * routes closed to waitpoints that are not tokens.
 */
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { sql } from "drizzle-orm";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { mintApiKey } from "../../schema/api-keys.ts";
import worker from "../../worker/index.ts";
import { callbackHash } from "../../worker/runs/tokens.ts";
import { connect } from "../../worker/store/database.ts";
import {
  CLOSED_PORT_URL,
  client,
  createTenant,
  executorCalls,
  httpCheck,
  recordPendingRun,
  siteUrl,
} from "./support.ts";

/** Sends `request` to the Worker with some bindings or settings replaced, as a deploy with them would see it. */
async function send(request: Request, overrides: Partial<Env> = {}): Promise<Response> {
  const ctx = createExecutionContext();
  const response = await worker.fetch(request, { ...env, ...overrides }, ctx);
  await waitOnExecutionContext(ctx);
  return response;
}

const get = (path: string, headers: Record<string, string> = {}) =>
  new Request(`http://flightcheck${path}`, { headers });
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

describe("refusing bad keys", () => {
  /** A database of its own that only this test's Worker points at: every backend on it is one the Worker opened. */
  let probe: { url: string; backends: () => Promise<number> };

  beforeAll(async () => {
    const name = `edge_probe_${crypto.randomUUID().replaceAll("-", "")}`;
    const admin = connect(inject("legacyDatabaseUrl"), { wsProxy: inject("wsProxyUrl") });
    await admin.pool.query(`create database ${name}`);
    const url = new URL(inject("legacyDatabaseUrl"));
    url.pathname = `/${name}`;
    probe = {
      url: url.toString(),
      backends: async () => {
        const query = sql`select count(*)::int as n from pg_stat_activity where datname = ${name}`;
        return (await admin.db.execute<{ n: number }>(query)).rows[0]!.n;
      },
    };
  });

  it("opens no database connection for a missing, malformed or corrupted key", async () => {
    const stores = { LEGACY_DATABASE_URL: probe.url, RUNOPS_DATABASE_URL: probe.url };
    const genuine = await mintApiKey("dev");
    const corrupted = genuine.slice(0, -1) + (genuine.endsWith("0") ? "1" : "0");
    const badChecksum = bearer(`fc_dev_${"0".repeat(56)}`);
    const attempts = [{}, bearer("fc_dev_short"), badChecksum, bearer(corrupted), { authorization: "Basic eDp5" }];
    for (const path of ["/api/v1/runs", "/api/v1/tasks/http-check/trigger"]) {
      for (const headers of attempts) {
        const method = path.endsWith("trigger") ? "POST" : "GET";
        const response = await send(new Request(`http://flightcheck${path}`, { method, headers }), stores);
        expect(response.status).toBe(401);
        expect(response.headers.get("content-type")).toBe("application/problem+json");
      }
    }
    expect(await probe.backends()).toBe(0);
    // The probe sees connections: a health check opens one.
    expect((await send(get("/healthz"), stores)).status).toBe(200);
    expect(await probe.backends()).toBeGreaterThan(0);
  });

  it("answers a key it authenticated within the minute without asking the database again", async () => {
    const { apiKey } = await createTenant();
    expect((await send(get("/api/v1/runs", bearer(apiKey)))).status).toBe(200);
    // The stores are down now; an unclassifiable id is the client's error, found before any query.
    const down = { LEGACY_DATABASE_URL: CLOSED_PORT_URL, RUNOPS_DATABASE_URL: CLOSED_PORT_URL };
    expect((await send(get("/api/v1/runs/run_nope", bearer(apiKey)), down)).status).toBe(400);
  });
});

describe("rate limits", () => {
  // Twins of wrangler.toml's limiters with a limit of 3, declared by test/vitest.config.ts.
  const limiters = env as Env & Record<"TIGHT_API_KEY_RATE_LIMITER" | "TIGHT_UNAUTHENTICATED_RATE_LIMITER", RateLimit>;
  const tight = {
    API_KEY_RATE_LIMITER: limiters.TIGHT_API_KEY_RATE_LIMITER,
    UNAUTHENTICATED_RATE_LIMITER: limiters.TIGHT_UNAUTHENTICATED_RATE_LIMITER,
  };

  async function expectTooMany(response: Response) {
    expect(response.status).toBe(429);
    expect(response.headers.get("content-type")).toBe("application/problem+json");
    expect(Number(response.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(await response.json()).toMatchObject({ status: 429, title: "Too many requests" });
  }

  it("answers 429 with Retry-After once a key passes its limit, and not before", async () => {
    const { apiKey } = await createTenant();
    for (let i = 0; i < 3; i++) expect((await send(get("/api/v1/runs", bearer(apiKey)), tight)).status).toBe(200);
    await expectTooMany(await send(get("/api/v1/runs", bearer(apiKey)), tight));
    // Another key has its own budget.
    expect((await send(get("/api/v1/runs", bearer((await createTenant()).apiKey)), tight)).status).toBe(200);
  });

  it("answers 429 to an address that keeps sending bad keys", async () => {
    const from = { "cf-connecting-ip": `198.51.100.${Math.floor(Math.random() * 250)}` };
    const badKey = bearer(`fc_dev_${"0".repeat(56)}`);
    for (let i = 0; i < 3; i++)
      expect((await send(get("/api/v1/runs", { ...from, ...badKey }), tight)).status).toBe(401);
    await expectTooMany(await send(get("/api/v1/runs", { ...from, ...badKey }), tight));
    await expectTooMany(await send(get("/api/v1/runs", from), tight));
    // Over its limit, the address is refused before any lookup, even with a key that looks genuine.
    await expectTooMany(await send(get("/api/v1/runs", { ...from, ...bearer(await mintApiKey("dev")) }), tight));
  });
});

describe("store failures", () => {
  it("answer 503 without the driver's message, SQL or parameters", async () => {
    const { apiKey } = await createTenant();
    const down = { RUNOPS_DATABASE_URL: CLOSED_PORT_URL };
    const trigger = new Request("http://flightcheck/api/v1/tasks/http-check/trigger", {
      method: "POST",
      headers: { ...bearer(apiKey), "content-type": "application/json" },
      body: JSON.stringify({
        payload: { url: `${siteUrl}/ok` },
        options: { metadata: { marker: "parameter-marker" } },
      }),
    });
    for (const response of [await send(trigger, down), await send(get("/healthz"), down)]) {
      expect(response.status).toBe(503);
      const text = await response.text();
      expect(text).not.toMatch(/127\.0\.0\.1|postgres|insert|select|parameter-marker|connect|socket/i);
      expect(JSON.parse(text)).toMatchObject({ status: 503, title: "Store unavailable" });
    }
  });
});

describe("durations", () => {
  const cap = expect.objectContaining({ message: expect.stringContaining("365 days") });

  it.each([
    ["delay", "99999999d"],
    ["delay", "366d"],
    ["delay", "9999-12-31T00:00:00Z"],
    ["ttl", "99999999d"],
    ["idempotencyKeyTTL", "999999999d"],
  ])("refuses options.%s %s with 422 naming the cap", async (option, value) => {
    const api = client((await createTenant()).apiKey);
    const trigger = { ...httpCheck(`${siteUrl}/ok`), options: { [option]: value } };
    const { status, body } = await api.json("POST", "/api/v1/tasks/http-check/trigger", trigger);
    expect(status).toBe(422);
    expect(body.errors).toEqual(expect.arrayContaining([cap]));
  });

  it("refuses a waitpoint timeout beyond the cap, and takes one at it", async () => {
    const api = client((await createTenant()).apiKey);
    for (const timeout of ["99999999d", "366d", "9999-12-31T00:00:00Z"]) {
      const { status, body } = await api.json("POST", "/api/v1/waitpoints/tokens", { timeout });
      expect(status).toBe(422);
      expect(body.errors).toEqual(expect.arrayContaining([cap]));
    }
    expect((await api.json("POST", "/api/v1/waitpoints/tokens", { timeout: "365d" })).status).toBe(201);
    const atTheCap = { ...httpCheck(`${siteUrl}/ok`), options: { delay: "365d" } };
    expect((await api.json("POST", "/api/v1/tasks/http-check/trigger", atTheCap)).status).toBe(201);
  });
});

describe("waitpoints that are not tokens", () => {
  it("are 404 to retrieve, complete and the callback URL, and the run keeps waiting", async () => {
    const browserCase = { case: { name: "w", steps: [{ action: "goto", url: "/" }] }, baseUrl: siteUrl };
    const { friendlyId, tenant, token } = await recordPendingRun("browser-case", browserCase);
    const internal = executorCalls(friendlyId, token);
    expect((await internal("claim", { attempt: 1 })).status).toBe(200);
    const waited = (await internal("wait", { until: "1h" })).body as { waitpoints: { id: string; type: string }[] };
    const datetime = waited.waitpoints[0]!;
    expect(datetime.type).toBe("DATETIME");

    const api = client(tenant.apiKey);
    expect((await api.json("GET", `/api/v1/waitpoints/tokens/${datetime.id}`)).status).toBe(404);
    expect(
      (await api.json("POST", `/api/v1/waitpoints/tokens/${datetime.id}/complete`, { data: "early" })).status,
    ).toBe(404);
    const hash = await callbackHash(env.SIGNING_SECRET, datetime.id);
    const callback = await exports.default.fetch(
      `http://flightcheck/api/v1/waitpoints/tokens/${datetime.id}/callback/${hash}`,
      {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: "{}",
      },
    );
    expect(callback.status).toBe(404);
    expect((await api.json("GET", `/api/v1/runs/${friendlyId}`)).body.status).toBe("WAITING");
  });
});
