/**
 * Reliability scenario (issue #14, item 1): tenant B reaches for tenant A's repository through every door it
 * has (suite create, suite patch, the App's setup URL with its own state, deliveries naming A's repository)
 * on the real local stack with the GitHub stand-in, and reports what it tried and what held.
 */
import type { Pool } from "@neondatabase/serverless";
import { createSuiteBodySchema } from "../../schema/api.ts";
import type { DevState } from "../../scripts/dev-stack.ts";
import { apiClient } from "../../scripts/dev-stack.ts";
import { freshInstallation, type Tenant } from "../../scripts/seed.ts";
import { openPool } from "../../worker/store/database.ts";
import { SuiteStore } from "../../worker/store/suite-store.ts";
import type { FakeGitHub } from "../../scripts/local-github.ts";

export interface TenancyContext {
  dev: DevState;
  github: FakeGitHub;
  /** A control-plane pool, to plant what the API refuses (a suite written before suites were checked). */
  admin: Pool;
  demoUrl: string;
  tenant(concurrencyLimit: number): Promise<Tenant>;
  deliver(event: string, payload: unknown): Promise<{ status: number; body: any }>;
  pullRequest(repository: string, sha: string, installationId: number): unknown;
  randomSha(): string;
  until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T>;
}

export async function tenantReachesForAnotherRepository(ctx: TenancyContext) {
  const { dev, github, admin } = ctx;
  const [a, b] = [await ctx.tenant(10), await ctx.tenant(10)];
  const repository = `${a.installation!.account}/shop`;
  const suite = (name: string, repo: string) => ({
    name,
    repository: repo,
    baseUrl: ctx.demoUrl,
    cases: [{ name: "home", steps: [{ action: "goto", url: "/" }] }],
  });
  const asB = apiClient(dev, b.apiKey);
  const answers: Record<string, number> = {};

  answers.create = (await asB("POST", "/api/v1/suites", suite("grab", repository))).status;
  const own = await asB("POST", "/api/v1/suites", suite("own", `${b.installation!.account}/site`));
  answers.patch = (await asB("PATCH", `/api/v1/suites/${own.body.id}`, { repository })).status;

  const state = (await asB("GET", "/api/v1/github/install")).body.state as string;
  const setup = async (code: string) => {
    const query = new URLSearchParams({ installation_id: String(a.installation!.id), state, code });
    return (await fetch(`${dev.apiUrl}/github/setup?${query}`)).status;
  };
  answers.guessedSetup = await setup(
    github.authorizeUser([{ id: freshInstallation().id, account: b.installation!.account }]),
  );
  answers.adminSetup = await setup(
    github.authorizeUser([{ id: a.installation!.id, account: a.installation!.account }]),
  );

  // B's suite planted on A's repository, and A's own: A's delivery must start A's only.
  const planted = await new SuiteStore(admin).create(
    b.environmentId,
    createSuiteBodySchema.parse(suite("planted", repository)),
  );
  const mine = await apiClient(dev, a.apiKey)("POST", "/api/v1/suites", suite("mine", repository));
  const processed = (delivery: string) =>
    ctx.until(
      `delivery ${delivery} processed`,
      async () => {
        const { rows } = await admin.query("select processed_at from webhook_deliveries where id = $1", [delivery]);
        return rows[0]?.processed_at ? true : undefined;
      },
      30_000,
    );
  const unboundSha = ctx.randomSha();
  await processed(
    (await ctx.deliver("pull_request", ctx.pullRequest(repository, unboundSha, freshInstallation().id))).body.delivery,
  );
  const sha = ctx.randomSha();
  await processed(
    (await ctx.deliver("pull_request", ctx.pullRequest(repository, sha, a.installation!.id))).body.delivery,
  );
  const started: string[] = [];
  const runops = openPool(dev.databases.runops, { wsProxy: dev.wsProxyUrl });
  for (const pool of [admin, runops]) {
    const { rows } = await pool.query("select suite_id from batches where suite_id = any($1)", [
      [planted.id, mine.body.id.replace(/^suite_/, "")],
    ]);
    started.push(...rows.map((row: { suite_id: string }) => (row.suite_id === planted.id ? "B's" : "A's")));
  }
  await runops.end();
  const unboundCheckRuns = [...github.checkRuns.values()].filter((run) => run.head_sha === unboundSha).length;

  const held =
    answers.create === 422 &&
    answers.patch === 422 &&
    answers.guessedSetup === 403 &&
    answers.adminSetup === 409 &&
    started.length === 1 &&
    started[0] === "A's" &&
    unboundCheckRuns === 0;
  return {
    tried:
      "B: suite on A's repository (create, patch), " +
      "setup URL with B's state for A's installation (B's code; an admin's code), " +
      "a suite planted on A's repository; deliveries on A's repository from A's and from an unbound installation",
    held,
    detail:
      `create ${answers.create}, patch ${answers.patch}, setup ${answers.guessedSetup} / ${answers.adminSetup}; ` +
      `suite runs started: ${started.join(", ") || "none"}; ` +
      `from the unbound installation: ${unboundCheckRuns} check runs`,
  };
}
