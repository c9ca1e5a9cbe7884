/**
 * `npm run test:reliability`: tries to break the real local stack (`npm run dev`'s Worker, queue, Durable Objects,
 * executor with Chromium, embedded Postgres, and a local GitHub stand-in) and prints what it tried and what
 * held. Exits non-zero if anything did not hold. RELIABILITY_ONLY=<words> runs the scenarios named so.
 */
import { deliverWebhook, randomSha } from "../../scripts/pull-request.ts";
import { neonConfig } from "@neondatabase/serverless";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import ws from "ws";
import { demoSuite } from "../../scripts/demo-suite.ts";
import { startDemoSite } from "../../scripts/demo-site.ts";
import { apiClient, devStack } from "../../scripts/dev-stack.ts";
import { startPostgres } from "../../scripts/postgres.ts";
import { freshInstallation, seedTenant } from "../../scripts/seed.ts";
import { signToken } from "../../worker/runs/tokens.ts";
import { openPool } from "../../worker/store/database.ts";
import { FAKE_CLIENT_ID, FAKE_CLIENT_SECRET, generateAppKeyPair, startFakeGitHub } from "../../scripts/local-github.ts";
import { startSite } from "../support/site.ts";
import { replayedUnderNewDeliveryIds } from "./dedup.ts";
import { staleAttemptAfterNewerClaim } from "./fencing.ts";
import { badKeyFlood, perKeyFlood } from "./edge.ts";
import { executorSecretsStayPut } from "./egress.ts";
import { fuzzRequests } from "./fuzz.ts";
import { tenantReachesForAnotherRepository } from "./tenancy.ts";

neonConfig.webSocketConstructor = ws;

interface Outcome {
  scenario: string;
  tried: string;
  held: boolean;
  detail: string;
}

const FINAL = new Set(["COMPLETED", "FAILED", "CANCELED", "CRASHED", "SYSTEM_FAILURE", "EXPIRED", "TIMED_OUT"]);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs `work` over `items` with at most `limit` in flight. */
async function bounded<T, R>(items: T[], limit: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const index = next++;
        results[index] = await work(items[index]!, index);
      }
    }),
  );
  return results;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const found = await probe().catch(() => undefined);
    if (found !== undefined) return found;
    await sleep(250);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

const APP_ID = "5151";
const keys = generateAppKeyPair();
const [github, demo, probe] = await Promise.all([
  startFakeGitHub({ appId: APP_ID, publicKey: keys.publicKey }),
  startDemoSite(),
  startSite(),
]);
const stack = await devStack({
  env: {
    GITHUB_APP_ID: APP_ID,
    GITHUB_PRIVATE_KEY: keys.privateKey,
    GITHUB_API_URL: github.url,
    GITHUB_WEB_URL: github.url,
    GITHUB_APP_SLUG: "flightcheck-reliability",
    GITHUB_CLIENT_ID: FAKE_CLIENT_ID,
    GITHUB_CLIENT_SECRET: FAKE_CLIENT_SECRET,
    HEARTBEAT_TIMEOUT_MS: "3000",
    HEARTBEAT_INTERVAL_MS: "500",
    SHUTDOWN_GRACE_MS: "500",
    // Low enough for one key's flood to reach on a busy machine, above what the other scenarios send per key.
    API_KEY_RATE_LIMIT: "1500",
  },
});
const outcomes: Outcome[] = [];

try {
  const dev = await stack.start();
  const admin = openPool(dev.databases.legacy, { wsProxy: dev.wsProxyUrl });
  const tenant = async (concurrencyLimit: number) =>
    seedTenant(admin, { slug: `rel-${crypto.randomUUID()}`, concurrencyLimit, installation: freshInstallation() });
  const api = (key: string) => apiClient(dev, key);
  const rowsOf = async (environmentId: string) => {
    let total = 0;
    for (const url of [dev.databases.legacy, dev.databases.runops]) {
      const pool = openPool(url, { wsProxy: dev.wsProxyUrl });
      total += (await pool.query("select count(*)::int as n from runs where environment_id = $1", [environmentId]))
        .rows[0].n;
      await pool.end();
    }
    return total;
  };
  /** Every run of the environment in a final state, or undefined while some are not. */
  const allFinal = (call: ReturnType<typeof api>, expected: number) => async () => {
    let cursor: string | undefined;
    const runs: { status: string }[] = [];
    do {
      const page = await call("GET", `/api/v1/runs?limit=100${cursor ? `&cursor=${cursor}` : ""}`);
      runs.push(...page.body.data);
      cursor = page.body.nextCursor ?? undefined;
    } while (cursor);
    return runs.length >= expected && runs.every((run) => FINAL.has(run.status)) ? runs : undefined;
  };

  const only = process.env.RELIABILITY_ONLY?.toLowerCase();
  const scenario = async (name: string, run: () => Promise<Omit<Outcome, "scenario">>) => {
    if (only && !name.toLowerCase().includes(only)) return;
    const started = Date.now();
    process.stdout.write(`… ${name}\n`);
    try {
      const outcome = { scenario: name, ...(await run()) };
      outcome.detail += ` (${((Date.now() - started) / 1000).toFixed(1)} s)`;
      outcomes.push(outcome);
    } catch (error) {
      outcomes.push({ scenario: name, tried: "—", held: false, detail: `threw: ${(error as Error).message}` });
    }
    const last = outcomes.at(-1)!;
    process.stdout.write(`${last.held ? "✓ held" : "✗ BROKE"}: ${last.detail}\n`);
  };

  await scenario("idempotency under a stampede", async () => {
    const t = await tenant(1_000);
    const call = api(t.apiKey);
    const answers = await bounded(Array.from({ length: 500 }), 50, () =>
      call("POST", "/api/v1/tasks/http-check/trigger", {
        payload: { url: `${probe.url}/ok` },
        options: { idempotencyKey: "stampede", delay: "1h" },
      }),
    );
    const ids = new Set(answers.map((answer) => answer.body?.id));
    const created = answers.filter((answer) => answer.status === 201).length;
    const rows = await rowsOf(t.environmentId);
    return {
      tried: "500 triggers with one idempotency key, 50 in flight",
      held: ids.size === 1 && created === 1 && rows === 1 && answers.every((answer) => answer.status < 300),
      detail: `${ids.size} distinct id(s), ${created} created, ${answers.length - created} cached, ${rows} row(s)`,
    };
  });

  await scenario("concurrency limit under load", async () => {
    const t = await tenant(10);
    const call = api(t.apiKey);
    const group = crypto.randomUUID();
    let sampledMax = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const client = await admin.connect();
        try {
          await client.query("begin");
          await client.query("select 1 from organizations where id = $1 for no key update", [t.organizationId]);
          let active = 0;
          for (const url of [dev.databases.legacy, dev.databases.runops]) {
            const pool = openPool(url, { wsProxy: dev.wsProxyUrl });
            const { rows } = await pool.query(
              "select count(*)::int as n from runs where organization_id = $1 " +
                "and status in ('PENDING','DEQUEUED','EXECUTING','WAITING')",
              [t.organizationId],
            );
            active += rows[0].n;
            await pool.end();
          }
          sampledMax = Math.max(sampledMax, active);
          await client.query("commit");
        } finally {
          client.release();
        }
        await sleep(100);
      }
    })();
    const answers = await bounded(Array.from({ length: 300 }), 50, (_, index) =>
      call("POST", "/api/v1/tasks/http-check/trigger", {
        payload: { url: `${probe.url}/slow?ms=150&group=${group}&seq=${index}` },
      }),
    );
    const runs = await until("300 runs to finish", allFinal(call, 300), 180_000);
    sampling = false;
    await sampler;
    const stats = (await (await fetch(`${probe.url}/stats?group=${group}`)).json()) as {
      maxInFlight: number;
      arrivals: string[];
    };
    const completed = runs.filter((run) => run.status === "COMPLETED").length;
    return {
      tried: "300 http-checks (150 ms each), 50 triggers in flight, organisation limit 10",
      held:
        answers.every((answer) => answer.status === 201) &&
        completed === 300 &&
        stats.maxInFlight <= 10 &&
        sampledMax <= 10,
      detail:
        `${completed}/300 completed, site saw at most ${stats.maxInFlight} at once, ` +
        `locked samples at most ${sampledMax} active`,
    };
  });

  await scenario("every dispatch delivered twice", async () => {
    const t = await tenant(100);
    const call = api(t.apiKey);
    const groups = Array.from({ length: 10 }, () => crypto.randomUUID());
    const triggered = await Promise.all(
      groups.map((group) =>
        call("POST", "/api/v1/tasks/browser-case/trigger", {
          payload: {
            baseUrl: probe.url,
            case: { name: `counted ${group}`, steps: [{ action: "goto", url: `/slow?ms=1&group=${group}&seq=1` }] },
          },
        }),
      ),
    );
    // The queue delivers each message once; deliver each a second time, as a queue may.
    await Promise.all(
      triggered.map(async ({ body }) => {
        const token = await signToken(
          dev.signingSecret,
          { scope: "executor", sub: body.id, env: t.environmentId, attempt: 1 },
          600,
        );
        await fetch(`${dev.executorUrl}/jobs`, {
          method: "POST",
          headers: { authorization: `Bearer ${dev.executorSecret}`, "content-type": "application/json" },
          body: JSON.stringify({
            runId: body.id.slice(4),
            task: "browser-case",
            attempt: 1,
            token,
            dispatchedAt: new Date().toISOString(),
          }),
        });
      }),
    );
    const runs = await until("10 cases to finish", allFinal(call, 10), 180_000);
    await sleep(1_000); // let any second run of a case show up at the site
    const arrivals = await Promise.all(
      groups.map(
        async (group) =>
          ((await (await fetch(`${probe.url}/stats?group=${group}`)).json()) as { arrivals: string[] }).arrivals.length,
      ),
    );
    // An attempt retried because its heartbeats missed the 3 s deadline (a loaded machine) rightly visits again;
    // a redelivered message must not: each case visits once per attempt it was given, never more.
    const attempts = triggered.map(
      ({ body }) =>
        (runs as unknown as { id: string; attempt: number }[]).find((run) => run.id === body.id)?.attempt ?? 0,
    );
    const retried = attempts.filter((attempt) => attempt > 1).length;
    return {
      tried: "10 browser cases, each dispatch message delivered to the executor twice",
      held: runs.every((run) => run.status === "COMPLETED") && arrivals.every((n, i) => n === attempts[i]),
      detail:
        `${runs.filter((run) => run.status === "COMPLETED").length}/10 completed; ` +
        `site visits per case: ${arrivals.join(",")}; ` +
        `attempts per case: ${attempts.join(",")} (${retried} retried after missed heartbeats)`,
    };
  });

  const deliver = (event: string, payload: unknown, options?: Parameters<typeof deliverWebhook>[3]) =>
    deliverWebhook(dev, event, payload, options);
  const pullRequest = (repository: string, sha: string, installationId: number) => ({
    action: "opened",
    repository: { full_name: repository },
    installation: { id: installationId },
    pull_request: { number: 3, head: { sha, ref: "topic" } },
  });
  const checkRunFor = (sha: string) => [...github.checkRuns.values()].find((run) => run.head_sha === sha);

  await scenario("executor SIGKILLed mid-suite", async () => {
    const t = await tenant(100);
    const call = api(t.apiKey);
    const repository = `${t.installation!.account}/kill-${crypto.randomUUID().slice(0, 8)}`;
    const slow = {
      name: "slow widget",
      steps: [
        { action: "goto", url: "/slow-widget?ms=2500" },
        { action: "waitFor", target: { testId: "widget" } },
      ],
    };
    await call("POST", "/api/v1/suites", {
      name: "kill",
      repository,
      baseUrl: demo.url,
      cases: [slow, ...demoSuite.cases.slice(0, 3)],
    });
    const sha = randomSha();
    await deliver("pull_request", pullRequest(repository, sha, t.installation!.id));
    await until(
      "a case to be executing",
      async () => {
        const page = await call("GET", "/api/v1/runs?status=EXECUTING");
        return page.body.data.length > 0 ? true : undefined;
      },
      30_000,
    );
    const authorization = `Bearer ${dev.executorSecret}`;
    const health = await fetch(`${dev.executorUrl}/healthz`, { headers: { authorization } });
    const { pid } = (await health.json()) as { pid: number };
    process.kill(pid, "SIGKILL");
    const checkRun = await until(
      "the check run to conclude",
      async () => {
        if (process.env.RELIABILITY_DEBUG)
          console.log(
            JSON.stringify({
              checkRun: checkRunFor(sha)?.status,
              runs: (await call("GET", "/api/v1/runs")).body.data.map((run: any) => `${run.status}/${run.attempt}`),
            }),
          );
        return checkRunFor(sha)?.status === "completed" ? checkRunFor(sha) : undefined;
      },
      120_000,
    );
    const runs = await until("every run to end", allFinal(call, 4), 60_000);
    return {
      tried: "a 4-case suite from a pull_request; the executor SIGKILLed while a case ran (the stack restarts it)",
      held: runs.length === 4 && checkRun.conclusion !== undefined,
      detail:
        `runs ended ${runs.map((run) => run.status).join(", ")}; ` +
        `check run ${checkRun.status}/${checkRun.conclusion}`,
    };
  });

  await scenario("forged and replayed webhooks", async () => {
    const t = await tenant(100);
    const repository = `${t.installation!.account}/replay-${crypto.randomUUID().slice(0, 8)}`;
    await api(t.apiKey)("POST", "/api/v1/suites", {
      name: "replay",
      repository,
      baseUrl: demo.url,
      cases: [demoSuite.cases[2]],
    });
    const forgedSha = randomSha();
    const forged = await Promise.all(
      Array.from({ length: 20 }, () =>
        deliver("pull_request", pullRequest(repository, forgedSha, t.installation!.id), { secret: "wrong-secret" }),
      ),
    );
    const sha = randomSha();
    const delivery = crypto.randomUUID();
    const replayed = await Promise.all(
      Array.from({ length: 20 }, () =>
        deliver("pull_request", pullRequest(repository, sha, t.installation!.id), { delivery }),
      ),
    );
    await until(
      "the replayed delivery's check run",
      async () => (checkRunFor(sha)?.status === "completed" ? true : undefined),
      60_000,
    );
    const creates = github.calls.filter(
      (c) => c.method === "POST" && (c.body as { head_sha?: string })?.head_sha === sha,
    ).length;
    const accepted = replayed.filter((answer) => answer.body.accepted).length;
    return {
      tried: "20 deliveries with a forged signature; one delivery replayed 20 times at once",
      held:
        forged.every((answer) => answer.status === 401) && !checkRunFor(forgedSha) && accepted === 1 && creates === 1,
      detail:
        `forged: ${forged.filter((answer) => answer.status === 401).length}/20 refused; ` +
        `replayed: ${accepted} accepted, ${replayed.length - accepted} duplicates, ${creates} check run`,
    };
  });

  await scenario("tenant B reaches for tenant A's repository", () =>
    tenantReachesForAnotherRepository({
      dev,
      github,
      admin,
      demoUrl: demo.url,
      tenant,
      deliver,
      pullRequest,
      randomSha,
      until,
    }),
  );

  await scenario("signed body replayed under new delivery ids", async () => {
    const { apiKey, installation } = await tenant(100);
    const call = api(apiKey);
    const ended = (expected: number) => until("the suite run to end", allFinal(call, expected), 60_000);
    return replayedUnderNewDeliveryIds({
      call,
      installation: installation!,
      baseUrl: demo.url,
      deliver,
      pullRequest,
      randomSha,
      allFinal: ended,
    });
  });

  await scenario("stale attempt after a newer claim", async () => {
    const t = await tenant(100);
    const { apiUrl, signingSecret } = dev;
    const context = {
      call: api(t.apiKey),
      apiKey: t.apiKey,
      environmentId: t.environmentId,
      apiUrl,
      signingSecret,
      until,
    };
    return staleAttemptAfterNewerClaim({ ...context, demoUrl: demo.url, probeUrl: probe.url });
  });

  await scenario("fuzzed requests", async () => {
    const t = await tenant(1_000);
    const other = await tenant(10);
    const foreign = (
      await api(other.apiKey)("POST", "/api/v1/tasks/http-check/trigger", {
        payload: { url: `${probe.url}/ok` },
        options: { delay: "1h" },
      })
    ).body.id;
    const requests = fuzzRequests(2_000, { foreignRunId: foreign });
    const statuses = await bounded(requests, 20, async (request) => {
      const response = await fetch(`${dev.apiUrl}${request.path}`, {
        method: request.method,
        headers: {
          ...(request.auth === false ? {} : { authorization: `Bearer ${t.apiKey}` }),
          "content-type": "application/json",
          ...request.headers,
        },
        body: request.body,
      });
      await response.arrayBuffer();
      return { status: response.status, request };
    });
    const errors = statuses.filter(({ status }) => status >= 500);
    const byStatus = new Map<number, number>();
    for (const { status } of statuses) byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
    return {
      tried:
        "2,000 requests across every route: malformed JSON, wrong types, huge strings, odd unicode, " +
        "unclassifiable and foreign ids",
      held: errors.length === 0,
      detail:
        `statuses ${[...byStatus]
          .sort(([a], [b]) => a - b)
          .map(([status, n]) => `${status}×${n}`)
          .join(" ")}` +
        (errors.length ? `; first 5xx: ${errors[0]!.request.method} ${errors[0]!.request.path.slice(0, 80)}` : ""),
    };
  });

  await scenario("Postgres killed during a burst of triggers", async () => {
    const t = await tenant(1_000);
    const call = api(t.apiKey);
    const dataDir = join(stack.home, "postgres");
    let killed = false;
    const answers = await bounded(Array.from({ length: 200 }), 10, async (_, index) => {
      if (index === 80 && !killed) {
        killed = true;
        process.kill(Number(readFileSync(join(dataDir, "postmaster.pid"), "utf8").split("\n")[0]), "SIGKILL");
      }
      return call("POST", "/api/v1/tasks/http-check/trigger", { payload: { url: `${probe.url}/ok` } });
    });
    const acknowledged = answers.filter((answer) => answer.status === 201).map((answer) => answer.body.id as string);
    const refused = answers.filter((answer) => answer.status === 503).length;
    const other = answers
      .filter((answer) => answer.status !== 201 && answer.status !== 503)
      .map((answer) => answer.status);
    await startPostgres({ dataDir, port: stack.ports.postgres }); // the database comes back
    const missing = (
      await bounded(acknowledged, 10, async (id) => (await call("GET", `/api/v1/runs/${id}`)).status)
    ).filter((status) => status !== 200).length;
    // Dispatches lost while the database was down are the sweep's (every minute; fired here after its grace).
    await sleep(31_000);
    await fetch(`${dev.apiUrl}/cdn-cgi/local/scheduled`);
    const runs = await until("every acknowledged run to finish", allFinal(call, acknowledged.length), 60_000);
    const rows = await rowsOf(t.environmentId);
    return {
      tried: "200 triggers, 10 in flight; Postgres SIGKILLed after 80, then restarted",
      held:
        other.length === 0 && missing === 0 && runs.every((run) => run.status === "COMPLETED") && rows === runs.length,
      detail:
        `${acknowledged.length} acknowledged, ${refused} answered 503` +
        `${other.length ? `, others: ${other.join(",")}` : ""}; after restart ${missing} acknowledged missing, ` +
        `${rows} rows, all ${runs.length} ${runs.every((run) => run.status === "COMPLETED") ? "COMPLETED" : "ended"}`,
    };
  });
  const edge = {
    apiUrl: dev.apiUrl,
    wsProxyUrl: dev.wsProxyUrl,
    newKey: async () => (await tenant(10)).apiKey,
    bounded: <R>(count: number, limit: number, work: (index: number) => Promise<R>) =>
      bounded(Array.from({ length: count }), limit, (_, index) => work(index)),
  };
  // One key's flood first: the bad keys' flood leaves its address refused for a minute.
  await scenario("a flood on one key", () => perKeyFlood(edge));
  await scenario("a flood of bad keys", () => badKeyFlood(edge));
  await scenario("Executor secrets and endpoints", () => executorSecretsStayPut(dev));
  await admin.end();
} finally {
  await Promise.all([stack.dispose(), github.close(), demo.close(), probe.close()]);
}

const width = Math.max(...outcomes.map((outcome) => outcome.scenario.length));
console.log("\nreliability: what was tried, and what held\n");
for (const outcome of outcomes) {
  console.log(`${outcome.held ? "✓" : "✗"} ${outcome.scenario.padEnd(width)}  ${outcome.tried}`);
  console.log(`  ${"".padEnd(width)}  → ${outcome.detail}`);
}
const broken = outcomes.filter((outcome) => !outcome.held).length;
console.log(`\n${outcomes.length - broken} held, ${broken} broke`);
process.exit(broken ? 1 : 0);
