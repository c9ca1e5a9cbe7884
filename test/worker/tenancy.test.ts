/**
 * Tenancy with GitHub (DESIGN §11), tried as a hostile tenant would: installations belong to one organisation
 * (bound through the App's setup URL with a signed state and the installing person's OAuth code, against the
 * local GitHub stand-in), suites live only on repositories an organisation's installation covers, and a
 * delivery starts only the suites of the organisation its installation is bound to.
 */
import { env } from "cloudflare:test";
import { eq, inArray } from "drizzle-orm";
import { describe, expect, inject, it, vi } from "vitest";
import { createSuiteBodySchema } from "../../schema/api.ts";
import * as controlPlane from "../../schema/control-plane.ts";
import { freshInstallation, type Tenant } from "../../scripts/seed.ts";
import { loadConfig } from "../../worker/config.ts";
import { mintPageToken } from "../../worker/runs/tokens.ts";
import { connect } from "../../worker/store/database.ts";
import { openStores } from "../../worker/store/open.ts";
import { client, createTenant, deliver, randomSha, siteUrl, withLegacyDatabase } from "./support.ts";

const githubUrl = inject("githubUrl");
const wsProxy = inject("wsProxyUrl");

const repositoryOf = (tenant: Tenant, name = "shop") => `${tenant.installation!.account}/${name}`;
const suiteOn = (repository: string, name = "smoke", enabled = true) => ({
  name,
  repository,
  baseUrl: siteUrl,
  cases: [{ name: "home", enabled, steps: [{ action: "goto", url: "/ok" }] }],
});

const pullRequest = (repository: string, installationId: number) => ({
  action: "opened",
  repository: { full_name: repository, default_branch: "main" },
  installation: { id: installationId },
  pull_request: { number: 1, head: { sha: randomSha(), ref: "topic" } },
});

/** Waits until the Worker finished a delivery's deferred work (it answers before doing it). */
async function processed(deliveryId: string): Promise<void> {
  await withLegacyDatabase((db) =>
    vi.waitFor(
      async () => {
        const [row] = await db
          .select()
          .from(controlPlane.webhookDeliveries)
          .where(eq(controlPlane.webhookDeliveries.id, deliveryId));
        expect(row?.processedAt, `delivery ${deliveryId} processed`).toBeTruthy();
      },
      { timeout: 20_000, interval: 50 },
    ),
  );
}

/** Ids of the suites that have suite runs, read from both databases with bare clients. */
async function suitesStarted(suiteIds: string[]): Promise<string[]> {
  const started: string[] = [];
  for (const url of [inject("legacyDatabaseUrl"), inject("runopsDatabaseUrl")]) {
    const { db, close } = connect(url, { wsProxy });
    try {
      const rows = await db
        .select({ suiteId: controlPlane.batches.suiteId })
        .from(controlPlane.batches)
        .where(inArray(controlPlane.batches.suiteId, suiteIds));
      started.push(...rows.map((row) => row.suiteId!));
    } finally {
      await close();
    }
  }
  return started;
}

/** The OAuth code GitHub would hand the setup URL after a person who can see `installations` installed the App. */
async function oauthCode(installations: { id: number; account: string }[]): Promise<string> {
  const response = await fetch(`${githubUrl}/_stand-in/oauth-codes`, {
    method: "POST",
    body: JSON.stringify({ installations }),
  });
  return ((await response.json()) as { code: string }).code;
}

async function installState(tenant: Tenant): Promise<string> {
  const { status, body } = await client(tenant.apiKey).json("GET", "/api/v1/github/install");
  expect(status, JSON.stringify(body)).toBe(200);
  return body.state;
}

const setup = (query: Record<string, string | number>) =>
  client("none").json(
    "GET",
    `/github/setup?${new URLSearchParams(Object.entries(query).map(([key, value]) => [key, String(value)]))}`,
  );

describe("suites live only on repositories the organisation's installation covers", () => {
  it("refuses tenant B a suite on tenant A's repository, by create and by patch, with 422 saying why", async () => {
    const [a, b] = [await createTenant(), await createTenant()];
    const intruder = client(b.apiKey);
    const created = await intruder.json("POST", "/api/v1/suites", suiteOn(repositoryOf(a)));
    expect(created).toMatchObject({
      status: 422,
      body: { title: "Repository not covered", detail: expect.stringContaining("not covered") },
    });

    const own = await intruder.json("POST", "/api/v1/suites", suiteOn(repositoryOf(b)));
    expect(own.status).toBe(201);
    const patched = await intruder.json("PATCH", `/api/v1/suites/${own.body.id}`, {
      repository: repositoryOf(a).toUpperCase(),
    });
    expect(patched).toMatchObject({ status: 422, body: { detail: expect.stringContaining("not covered") } });

    const uninstalled = client((await createTenant(10, null)).apiKey);
    const refused = await uninstalled.json("POST", "/api/v1/suites", suiteOn(repositoryOf(a)));
    expect(refused).toMatchObject({ status: 422, body: { detail: expect.stringContaining("No GitHub installation") } });
  });

  it("follows installation_repositories and installation events", async () => {
    const installation = freshInstallation([]);
    const tenant = await createTenant(10, installation);
    const api = client(tenant.apiKey);
    const account = { login: installation.account, type: "Organization" };
    const [one, two] = [`${installation.account}/one`, `${installation.account}/two`];
    expect((await api.json("POST", "/api/v1/suites", suiteOn(one))).status).toBe(422);

    const changed = (added: string[], removed: string[]) =>
      deliver("installation_repositories", {
        action: added.length ? "added" : "removed",
        installation: { id: installation.id, account },
        repository_selection: "selected",
        repositories_added: added.map((full_name) => ({ full_name })),
        repositories_removed: removed.map((full_name) => ({ full_name })),
      });
    await processed((await changed([one, two], [])).body.delivery);
    const created = await api.json("POST", "/api/v1/suites", suiteOn(one));
    expect(created.status).toBe(201);

    await processed((await changed([], [one])).body.delivery);
    expect((await api.json("POST", "/api/v1/suites", suiteOn(one, "again"))).status).toBe(422);
    expect((await api.json("PATCH", `/api/v1/suites/${created.body.id}`, { name: "renamed" })).status).toBe(422);
    expect((await api.json("PATCH", `/api/v1/suites/${created.body.id}`, { repository: two })).status).toBe(200);

    await processed(
      (await deliver("installation", { action: "deleted", installation: { id: installation.id, account } })).body
        .delivery,
    );
    const gone = await api.json("POST", "/api/v1/suites", suiteOn(two, "after delete"));
    expect(gone).toMatchObject({ status: 422, body: { detail: expect.stringContaining("No GitHub installation") } });
  });
});

describe("a delivery starts only the suites of its installation's organisation", () => {
  it("never starts tenant B's suite on tenant A's delivery, nor anything for an unbound installation", async () => {
    const [a, b] = [await createTenant(), await createTenant()];
    // B's suite on A's repository, as written before suites were checked (the API refuses it now).
    const stores = openStores(loadConfig(env));
    const foreign = await stores.suites.create(b.environmentId, createSuiteBodySchema.parse(suiteOn(repositoryOf(a))));
    await stores.close();
    const own = await client(a.apiKey).json("POST", "/api/v1/suites", suiteOn(repositoryOf(a)));
    expect(own.status).toBe(201);
    const ownId = own.body.id.replace(/^suite_/, "");

    await processed((await deliver("pull_request", pullRequest(repositoryOf(a), a.installation!.id))).body.delivery);
    expect(await suitesStarted([foreign.id, ownId])).toEqual([ownId]);

    await processed(
      (await deliver("pull_request", pullRequest(repositoryOf(a), freshInstallation().id))).body.delivery,
    );
    expect(await suitesStarted([foreign.id, ownId])).toEqual([ownId]);
  });

  it("starts each suite on its own, oldest first: one that cannot start stops none after it", async () => {
    const tenant = await createTenant();
    const api = client(tenant.apiKey);
    const ids: string[] = [];
    for (const [name, enabled] of [
      ["first", true],
      ["all disabled", false],
      ["third", true],
    ] as const) {
      const created = await api.json("POST", "/api/v1/suites", suiteOn(repositoryOf(tenant), name, enabled));
      expect(created.status).toBe(201);
      ids.push(created.body.id.replace(/^suite_/, ""));
    }
    await processed(
      (await deliver("pull_request", pullRequest(repositoryOf(tenant), tenant.installation!.id))).body.delivery,
    );
    expect((await suitesStarted(ids)).sort()).toEqual([ids[0], ids[2]].sort());
  });
});

describe("binding an installation through the App's setup URL", () => {
  it("answers an install link carrying a signed state", async () => {
    const { status, body } = await client((await createTenant(10, null)).apiKey).json("GET", "/api/v1/github/install");
    expect(status).toBe(200);
    const url = new URL(body.url);
    expect(url.pathname).toBe("/apps/flightcheck-test/installations/new");
    expect(url.searchParams.get("state")).toBe(body.state);
  });

  it("binds an installation the installer can see, then lets the organisation use its repositories", async () => {
    const tenant = await createTenant(10, null);
    const installation = freshInstallation();
    const code = await oauthCode([{ id: installation.id, account: installation.account }]);
    const bound = await setup({
      installation_id: installation.id,
      state: await installState(tenant),
      code,
      setup_action: "install",
    });
    expect(bound).toMatchObject({ status: 200, body: { installationId: installation.id, bound: true } });
    const repository = `${installation.account}/web`;
    expect((await client(tenant.apiKey).json("POST", "/api/v1/suites", suiteOn(repository))).status).toBe(201);
    // The code was used: GitHub refuses it a second time.
    expect((await setup({ installation_id: installation.id, state: await installState(tenant), code })).status).toBe(
      403,
    );
  });

  it("refuses tenant B binding tenant A's installation with B's own state, and never moves a bound one", async () => {
    const [a, b] = [await createTenant(), await createTenant(10, null)];
    const stateOfB = await installState(b);
    const guessed = await setup({
      installation_id: a.installation!.id,
      state: stateOfB,
      code: await oauthCode([freshInstallation()]),
    });
    expect(guessed).toMatchObject({
      status: 403,
      body: { detail: expect.stringContaining("not among the installations") },
    });
    expect((await setup({ installation_id: a.installation!.id, state: stateOfB })).status).toBe(403);

    // Even a person who can see A's installation (an admin of both) cannot move it to B.
    const admin = await oauthCode([{ id: a.installation!.id, account: a.installation!.account }]);
    const moved = await setup({ installation_id: a.installation!.id, state: stateOfB, code: admin });
    expect(moved).toMatchObject({ status: 409, body: { title: "Installation already bound" } });
    expect((await client(b.apiKey).json("POST", "/api/v1/suites", suiteOn(repositoryOf(a)))).status).toBe(422);
    expect((await client(a.apiKey).json("POST", "/api/v1/suites", suiteOn(repositoryOf(a)))).status).toBe(201);
  });

  it("refuses forged, foreign-scoped and malformed states and queries", async () => {
    const a = await createTenant();
    const code = () => oauthCode([{ id: a.installation!.id, account: a.installation!.account }]);
    const state = await installState(a);
    const tampered = `${state.slice(0, -2)}${state.endsWith("A") ? "B" : "A"}`;
    const pageToken = await mintPageToken(env.SIGNING_SECRET, a.environmentId, a.organizationId);
    for (const forged of [tampered, pageToken, "not-a-state"]) {
      expect((await setup({ installation_id: a.installation!.id, state: forged, code: await code() })).status).toBe(
        403,
      );
    }
    expect((await setup({ installation_id: "1e3", state, code: await code() })).status).toBe(422);
    expect((await setup({ installation_id: a.installation!.id, code: await code() })).status).toBe(422);
  });
});
