import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../../worker/index.ts";

/** Calls the Worker with some settings changed, as a deploy with those settings would see them. */
async function fetchWith(overrides: Record<string, string>, path: string): Promise<Response> {
  const ctx = createExecutionContext();
  const response = await worker.fetch(new Request(`http://flightcheck${path}`), { ...env, ...overrides }, ctx);
  await waitOnExecutionContext(ctx);
  return response;
}

describe("GET /healthz", () => {
  it("reports both stores ok after a real query on each database", async () => {
    const response = await exports.default.fetch("http://flightcheck/healthz");
    const body = await response.json<{ ok: boolean; stores: Record<string, { status: string }> }>();
    expect(body).toMatchObject({ ok: true, stores: { legacy: { status: "ok" }, new: { status: "ok" } } });
    expect(response.status).toBe(200);
  });

  it("answers 503 naming the store that is down", async () => {
    const closedPort = "postgres://postgres:postgres@127.0.0.1:9/runops";
    const response = await fetchWith({ RUNOPS_DATABASE_URL: closedPort }, "/healthz");
    expect(response.status).toBe(503);
    expect(response.headers.get("content-type")).toBe("application/problem+json");
    const body = await response.json<{ detail: string; stores: Record<string, { status: string }> }>();
    expect(body.stores).toMatchObject({ legacy: { status: "ok" }, new: { status: "unavailable" } });
    expect(body.detail).toMatch(/^new: /);
  });

  it("reports the run-ops store as not configured when only the control-plane database is set", async () => {
    const response = await fetchWith({ RUNOPS_DATABASE_URL: "", RUN_OPS_SPLIT_ENABLED: "false" }, "/healthz");
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ ok: true, stores: { new: { status: "not configured" } } });
  });
});

describe("configuration", () => {
  it("refuses to serve with a malformed setting and names it", async () => {
    const response = await fetchWith({ LEGACY_DATABASE_URL: "mysql://nope" }, "/healthz");
    expect(response.status).toBe(500);
    const body = await response.json<{ title: string; detail: string }>();
    expect(body.title).toBe("Server misconfigured");
    expect(body.detail).toContain("LEGACY_DATABASE_URL");
  });

  it("names a missing setting", async () => {
    const response = await fetchWith({ EXECUTOR_SHARED_SECRET: "" }, "/healthz");
    expect(response.status).toBe(500);
    expect((await response.json<{ detail: string }>()).detail).toContain("EXECUTOR_SHARED_SECRET");
  });

  it("requires the run-ops URL when the split is on", async () => {
    const response = await fetchWith({ RUNOPS_DATABASE_URL: "", RUN_OPS_SPLIT_ENABLED: "true" }, "/healthz");
    expect((await response.json<{ detail: string }>()).detail).toContain("RUNOPS_DATABASE_URL");
  });
});

describe("unknown routes", () => {
  it("answer 404 as problem+json", async () => {
    const response = await exports.default.fetch("http://flightcheck/nope");
    expect(response.status).toBe(404);
    expect(response.headers.get("content-type")).toBe("application/problem+json");
  });
});
