/** Suites through the API: validated by the case language, scoped to the key's environment, run by hand. */
import { describe, expect, it } from "vitest";
import type { Tenant } from "../../scripts/seed.ts";
import { client, createTenant, siteUrl, waitForRun } from "./support.ts";

/** A suite on a repository the tenant's own installation covers. */
const suite = (tenant: Tenant, overrides: Record<string, unknown> = {}) => ({
  name: "smoke",
  repository: `${tenant.installation!.account}/shop`,
  baseUrl: siteUrl,
  cases: [
    { name: "home", steps: [{ action: "goto", url: "/ok" }] },
    { name: "later", enabled: false, steps: [{ action: "goto", url: "/" }] },
  ],
  ...overrides,
});

describe("/api/v1/suites", () => {
  it("creates, reads, lists, updates and deletes a suite with its cases", async () => {
    const tenant = await createTenant();
    const api = client(tenant.apiKey);
    const created = await api.json("POST", "/api/v1/suites", suite(tenant));
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      id: expect.stringMatching(/^suite_c/),
      triggers: ["pull_request"],
      cases: [
        expect.objectContaining({ name: "home", enabled: true, timeoutMs: 60_000 }),
        expect.objectContaining({ name: "later", enabled: false }),
      ],
    });
    const path = `/api/v1/suites/${created.body.id}`;
    expect((await api.json("GET", path)).body).toEqual(created.body);
    expect((await api.json("GET", "/api/v1/suites")).body.data.map((s: { id: string }) => s.id)).toEqual([
      created.body.id,
    ]);

    const updated = await api.json("PATCH", path, {
      triggers: ["push"],
      cases: [{ name: "only", steps: [{ action: "goto", url: "/" }] }],
    });
    expect(updated.body).toMatchObject({ triggers: ["push"], cases: [expect.objectContaining({ name: "only" })] });
    expect((await api.request("DELETE", path)).status).toBe(204);
    expect((await api.json("GET", path)).status).toBe(404);
  });

  it("refuses bad suites with the documented statuses", async () => {
    const tenant = await createTenant();
    const api = client(tenant.apiKey);
    expect((await api.json("POST", "/api/v1/suites", suite(tenant, { repository: "not a repo" }))).status).toBe(422);
    expect(
      (
        await api.json(
          "POST",
          "/api/v1/suites",
          suite(tenant, { cases: [{ name: "x", steps: [{ action: "teleport" }] }] }),
        )
      ).status,
    ).toBe(422);
    expect((await api.json("POST", "/api/v1/suites", suite(tenant, { cases: [] }))).status).toBe(422);
    const dup = suite(tenant, {
      cases: [
        { name: "a", steps: [{ action: "goto", url: "/" }] },
        { name: "a", steps: [{ action: "goto", url: "/" }] },
      ],
    });
    expect((await api.json("POST", "/api/v1/suites", dup)).status).toBe(422);
    expect((await api.json("PATCH", "/api/v1/suites/suite_cnotthere000000000000000a", {})).status).toBe(422);
    expect((await api.json("GET", "/api/v1/suites/nope")).status).toBe(400);
    expect((await api.json("POST", "/api/v1/suites", suite(tenant))).status).toBe(201);
    expect((await api.json("POST", "/api/v1/suites", suite(tenant))).status).toBe(409); // same name in this environment
  });

  it("hides another environment's suite", async () => {
    const tenant = await createTenant();
    const mine = client(tenant.apiKey);
    const theirs = client((await createTenant()).apiKey);
    const { body } = await mine.json("POST", "/api/v1/suites", suite(tenant));
    for (const [method, path] of [
      ["GET", `/api/v1/suites/${body.id}`],
      ["DELETE", `/api/v1/suites/${body.id}`],
      ["POST", `/api/v1/suites/${body.id}/runs`],
    ] as const) {
      expect((await theirs.json(method, path, method === "POST" ? {} : undefined)).status).toBe(404);
    }
  });

  it("starts a suite run by hand: a batch of its enabled cases on the given commit", async () => {
    const tenant = await createTenant();
    const api = client(tenant.apiKey);
    const { body: created } = await api.json("POST", "/api/v1/suites", suite(tenant));
    const sha = "a".repeat(40);
    const started = await api.json("POST", `/api/v1/suites/${created.id}/runs`, { sha, ref: "main" });
    expect(started).toMatchObject({
      status: 201,
      body: { id: expect.stringMatching(/^batch_/), runs: [expect.any(String)] },
    });
    const run = await waitForRun(api, started.body.runs[0], (r) => r.status !== "PENDING");
    expect(run).toMatchObject({
      task: "browser-case",
      tags: ["suite:smoke"],
      payload: { baseUrl: siteUrl, case: { name: "home" } },
    });
    expect((await api.json("POST", `/api/v1/suites/${created.id}/runs`, { sha: "xyz" })).status).toBe(422);
  });
});
