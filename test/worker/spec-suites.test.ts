/**
 * Repository suites through the API (issue #17): declared by `source` instead of cases, never both; their
 * setup task is the engine's own (a client cannot trigger it, and so cannot name an installation or a
 * repository to download); and they start only from GitHub, which names the commit and the installation.
 */
import { describe, expect, it } from "vitest";
import { client, createTenant, siteUrl } from "./support.ts";

describe("suites from the repository", () => {
  it("take a source instead of cases, and start only from GitHub", async () => {
    const tenant = await createTenant();
    const api = client(tenant.apiKey);
    const fields = { name: "specs", repository: `${tenant.installation!.account}/shop`, baseUrl: siteUrl };
    const both = await api.json("POST", "/api/v1/suites", {
      ...fields,
      source: { kind: "repository" },
      cases: [{ name: "a", steps: [{ action: "goto", url: "/" }] }],
    });
    expect(both.status).toBe(422);
    const escaping = await api.json("POST", "/api/v1/suites", {
      ...fields,
      source: { kind: "repository", path: "../flightcheck.json" },
    });
    expect(escaping.status).toBe(422);
    const tooManyShards = await api.json("POST", "/api/v1/suites", {
      ...fields,
      source: { kind: "repository", shards: 9 },
    });
    expect(tooManyShards).toMatchObject({ status: 422, body: { title: expect.any(String) } });

    const created = await api.json("POST", "/api/v1/suites", {
      ...fields,
      source: { kind: "repository", path: "e2e/flightcheck.json" },
    });
    expect(created).toMatchObject({
      status: 201,
      body: { source: { kind: "repository", path: "e2e/flightcheck.json", shards: 1 }, cases: [] },
    });
    const byHand = await api.json("POST", `/api/v1/suites/${created.body.id}/runs`, { sha: "a".repeat(40) });
    expect(byHand).toMatchObject({ status: 422, body: { title: "Not startable here" } });

    const switched = await api.json("PATCH", `/api/v1/suites/${created.body.id}`, {
      cases: [{ name: "a", steps: [{ action: "goto", url: "/" }] }],
    });
    expect(switched.body).not.toHaveProperty("source");
    expect(switched.body.cases).toHaveLength(1);
  });

  it("keeps the setup task out of clients' hands", async () => {
    const api = client((await createTenant()).apiKey);
    const payload = {
      name: "x",
      repository: "victim/private",
      sha: "a".repeat(40),
      installationId: 1,
      path: "flightcheck.json",
      baseUrl: siteUrl,
    };
    expect((await api.json("POST", "/api/v1/tasks/spec-suite/trigger", { payload })).status).toBe(404);
    expect((await api.json("POST", "/api/v1/tasks/batch", { items: [{ task: "spec-suite", payload }] })).status).toBe(
      404,
    );
  });
});
