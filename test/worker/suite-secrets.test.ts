/**
 * A suite's secrets are write-only (issue #17): the API takes values and only ever answers names, in every
 * read, list, update and error; the control-plane database holds them sealed, so a dump reveals no value.
 */
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Tenant } from "../../scripts/seed.ts";
import { client, createTenant, recordPendingRun, siteUrl, withLegacyDatabase } from "./support.ts";

const suite = (tenant: Tenant, overrides: Record<string, unknown> = {}) => ({
  name: `specs-${crypto.randomUUID()}`,
  repository: `${tenant.installation!.account}/shop`,
  baseUrl: siteUrl,
  source: { kind: "repository" },
  ...overrides,
});

/** A value no answer could contain by chance. */
const secretValue = () => `s3cr3t-${crypto.randomUUID()}`;

describe("suite secrets", () => {
  it("are written through the API and read back as names only, never as values", async () => {
    const tenant = await createTenant();
    const api = client(tenant.apiKey);
    const [token, password, rotated] = [secretValue(), secretValue(), secretValue()];
    const answers: string[] = [];
    const call = async (method: string, path: string, body?: unknown) => {
      const response = await api.request(method, path, body);
      const text = await response.text();
      answers.push(text);
      return { status: response.status, body: text ? JSON.parse(text) : undefined };
    };

    const created = await call("POST", "/api/v1/suites", suite(tenant, { secrets: { API_TOKEN: token } }));
    expect(created.status).toBe(201);
    expect(created.body.secretNames).toEqual(["API_TOKEN"]);
    const path = `/api/v1/suites/${created.body.id}`;

    // Adding one, replacing one, and reading: names change, values never show.
    const added = await call("PATCH", path, { secrets: { PASSWORD: password, API_TOKEN: rotated } });
    expect(added.body.secretNames).toEqual(["API_TOKEN", "PASSWORD"]);
    expect((await call("GET", path)).body.secretNames).toEqual(["API_TOKEN", "PASSWORD"]);
    const listed = (await call("GET", "/api/v1/suites")).body.data;
    expect(listed.find((item: { id: string }) => item.id === created.body.id).secretNames).toHaveLength(2);

    // Other changes keep them; null removes one.
    expect((await call("PATCH", path, { triggers: ["push"] })).body.secretNames).toEqual(["API_TOKEN", "PASSWORD"]);
    expect((await call("PATCH", path, { secrets: { PASSWORD: null } })).body.secretNames).toEqual(["API_TOKEN"]);

    // Refusals and conflicts answer problem+json without the value they were sent.
    const refused = [
      await call("POST", "/api/v1/suites", suite(tenant, { name: created.body.name, secrets: { API_TOKEN: token } })),
      await call("POST", "/api/v1/suites", suite(tenant, { secrets: { "NOT-A-NAME": token } })),
      await call("POST", "/api/v1/suites", suite(tenant, { secrets: { PATH: token } })),
      await call("POST", "/api/v1/suites", suite(tenant, { secrets: { SHORT: "abc" }, baseUrl: token })),
      await call("PATCH", path, { secrets: { API_TOKEN: 42, PASSWORD: password } }),
      await call("PATCH", path, {
        secrets: Object.fromEntries(Array.from({ length: 50 }, (_, index) => [`EXTRA_${index}`, password])),
      }),
    ];
    expect(refused.map((answer) => answer.status)).toEqual([409, 422, 422, 422, 422, 422]);
    const malformed = await api.request("PATCH", path, `{"secrets": {"API_TOKEN": "${token}"`);
    expect(malformed.status).toBe(400);
    answers.push(await malformed.text());

    for (const value of [token, password, rotated]) {
      for (const answer of answers) expect(answer).not.toContain(value);
    }

    // What the database holds: the names in clear, each value sealed (and the rotated one replaced).
    const row = await withLegacyDatabase(async (_, pool) => {
      const found = await pool.query("select secrets::text as secrets from suites where id = $1", [
        created.body.id.replace(/^suite_/, ""),
      ]);
      return found.rows[0].secrets as string;
    });
    expect(Object.keys(JSON.parse(row))).toEqual(["API_TOKEN"]);
    for (const value of [token, password, rotated, btoa(rotated)]) expect(row).not.toContain(value);
  });

  it("are given over the executor line only to the claimed attempt of a repository suite's setup run", async () => {
    const browserCase = { case: { name: "home", steps: [{ action: "goto", url: "/" }] }, baseUrl: siteUrl };
    const { friendlyId, token } = await recordPendingRun("browser-case", browserCase);
    const call = (method: string, path: string, body?: unknown) =>
      exports.default.fetch(`http://flightcheck/internal/runs/${friendlyId}/${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    expect((await call("GET", "secrets")).status).toBe(409); // not claimed by this attempt
    expect((await call("POST", "claim", { attempt: 1 })).status).toBe(200);
    const refused = await call("GET", "secrets");
    expect(refused.status).toBe(422);
    expect(await refused.json()).toMatchObject({ detail: expect.stringContaining("setup run") });
  });
});
