/**
 * Trigger latency and sustained throughput against the local stack (`wrangler dev`, embedded Postgres
 * through the WebSocket proxy, the real queue), beside a bare INSERT round trip through the same driver.
 * Targets: trigger p50 ≤ 3× the bare insert; ≥ 200 triggers/s sustained with none lost.
 */
import { neonConfig } from "@neondatabase/serverless";
import ws from "ws";
import { devStack } from "../scripts/dev-stack.ts";
import { seedTenant } from "../scripts/seed.ts";
import { openPool } from "../worker/store/database.ts";
import { mintCuid, mintKsuid } from "../worker/store/ids.ts";
import { mean, percentile, timed } from "./stats.ts";

neonConfig.webSocketConstructor = ws;

const LATENCY_SAMPLES = Number(process.env.BENCH_TRIGGERS ?? 300);
const THROUGHPUT_SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const THROUGHPUT_CLIENTS = 16;
/** Admission is serialised per organisation (its lock); many organisations trigger in parallel. */
const ORGANIZATIONS = 4;

type Row = Record<string, string | number>;

function latencyRow(name: string, samples: number[]): Row {
  return { case: name, "p50 ms": percentile(samples, 50), "p99 ms": percentile(samples, 99), "mean ms": mean(samples) };
}

export async function benchTrigger(): Promise<{ latency: Row[]; throughput: Row[]; ceilings: Row[] }> {
  const stack = await devStack();
  try {
    const state = await stack.start();
    // The driver as the Worker configures it locally (pipelined password auth through the proxy).
    const pool = (url: string) => openPool(url, { wsProxy: state.wsProxyUrl });

    const admin = pool(state.databases.legacy);
    const tenants = [];
    for (let i = 1; i < ORGANIZATIONS; i++) tenants.push(await seedTenant(admin, { slug: `bench-${i}` }));
    const keys = [state.apiKey, ...tenants.map((tenant) => tenant.apiKey)];
    // The bench measures the full path of an admitted run (lock, count, insert, RunDO, queue send): no limit.
    await admin.query("update organizations set concurrency_limit = 1000000");
    // Except for one organisation at a limit of 0, whose runs are recorded QUEUED and stay so: phase 1 alone.
    const queuedTenant = await seedTenant(admin, { slug: "bench-queued", concurrencyLimit: 0 });
    await admin.end();

    const owner = [mintCuid(), mintCuid(), mintCuid()];
    const insertSql = `insert into runs (id, organization_id, project_id, environment_id, task, status, payload)
      values ($1, $2, $3, $4, 'http-check', 'PENDING', $5) returning id`;
    const payload = { url: `${state.executorUrl}/healthz` };
    const warm = pool(state.databases.runops);
    const bareWarm: number[] = [];
    const bareFresh: number[] = [];
    for (let i = 0; i < LATENCY_SAMPLES; i++) {
      bareWarm.push(await timed(() => warm.query(insertSql, [mintKsuid(), ...owner, payload])));
    }
    await warm.end();
    for (let i = 0; i < LATENCY_SAMPLES; i++) {
      bareFresh.push(
        await timed(async () => {
          const fresh = pool(state.databases.runops);
          await fresh.query(insertSql, [mintKsuid(), ...owner, payload]);
          await fresh.end();
        }),
      );
    }

    const trigger = (apiKey = state.apiKey) =>
      fetch(`${state.apiUrl}/api/v1/tasks/http-check/trigger`, {
        method: "POST",
        headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
        body: JSON.stringify({ payload }),
      });
    const triggers: number[] = [];
    for (let i = 0; i < LATENCY_SAMPLES; i++) {
      triggers.push(await timed(async () => (await trigger()).arrayBuffer()));
    }
    // The floor under every request; and phase 1 alone, the run recorded QUEUED: nothing is dispatched or
    // executed while the next trigger is timed.
    const unknownRoute: number[] = [];
    for (let i = 0; i < LATENCY_SAMPLES; i++) unknownRoute.push(await timed(async () => (await fetch(`${state.apiUrl}/nope`)).arrayBuffer()));
    const queuedTriggers: number[] = [];
    for (let i = 0; i < LATENCY_SAMPLES; i++) queuedTriggers.push(await timed(async () => (await trigger(queuedTenant.apiKey)).arrayBuffer()));

    // Where a trigger's cost goes: requests/s of ever larger parts of its path, measured before the
    // sustained triggers leave a backlog of runs executing.
    const headers = { authorization: `Bearer ${state.apiKey}`, "content-type": "application/json" };
    const parts: [string, () => Promise<Response>][] = [
      ["unknown route (wrangler dev + workerd + Hono)", () => fetch(`${state.apiUrl}/nope`)],
      ["GET /healthz (+ a query on each database)", () => fetch(`${state.apiUrl}/healthz`)],
      ["GET /api/v1/runs/:id, unknown (+ auth + a read)", () => fetch(`${state.apiUrl}/api/v1/runs/run_${mintCuid()}`, { headers })],
      [
        "delayed trigger (+ validation + insert + RunDO for its alarm)",
        () =>
          fetch(`${state.apiUrl}/api/v1/tasks/http-check/trigger`, {
            method: "POST",
            headers,
            body: JSON.stringify({ payload, options: { delay: "1h" } }),
          }),
      ],
    ];
    const ceilings: Row[] = [];
    for (const [name, request] of parts) {
      const { elapsed, accepted, refused } = await sustain(request, [state.apiKey], true);
      ceilings.push({ "path (16 clients)": name, "requests/s": (accepted.length + refused) / elapsed });
    }

    const sustained = [await sustain(trigger, [state.apiKey]), await sustain(trigger, keys)];

    const stored = await countStored(pool, state.databases, sustained.flatMap((s) => s.accepted));

    return {
      latency: [
        latencyRow("bare INSERT, warm connection", bareWarm),
        latencyRow("bare INSERT, new connection (as a Worker request)", bareFresh),
        latencyRow("POST /api/v1/tasks/http-check/trigger", triggers),
        latencyRow("  the same, recorded QUEUED: phase 1 alone, no run executing meanwhile", queuedTriggers),
        latencyRow("  an unknown route: wrangler dev + workerd + Hono, no database", unknownRoute),
        {
          case: "trigger / bare INSERT on a new connection (target ≤ 3)",
          "p50 ms": percentile(triggers, 50) / percentile(bareFresh, 50),
          "p99 ms": percentile(triggers, 99) / percentile(bareFresh, 99),
          "mean ms": mean(triggers) / mean(bareFresh),
        },
        {
          case: "trigger / bare INSERT on a warm connection",
          "p50 ms": percentile(triggers, 50) / percentile(bareWarm, 50),
          "p99 ms": percentile(triggers, 99) / percentile(bareWarm, 99),
          "mean ms": mean(triggers) / mean(bareWarm),
        },
      ],
      ceilings,
      throughput: sustained.map(({ organizations, elapsed, accepted, refused }, i) => ({
        organizations,
        clients: THROUGHPUT_CLIENTS,
        seconds: elapsed,
        "triggers/s (target ≥ 200)": accepted.length / elapsed,
        accepted: accepted.length,
        refused,
        // Counted once over both runs.
        "lost (accepted, not stored)": i === sustained.length - 1 ? sustained.flatMap((s) => s.accepted).length - stored : "",
      })),
    };
  } finally {
    await stack.dispose();
  }
}

/**
 * THROUGHPUT_CLIENTS clients, spread over `apiKeys`, send back to back for THROUGHPUT_SECONDS; with
 * `anyStatus` every answer counts (as refused) and nothing is collected.
 */
async function sustain(trigger: (apiKey: string) => Promise<Response>, apiKeys: string[], anyStatus = false) {
  const accepted: string[] = [];
  let refused = 0;
  const deadline = Date.now() + THROUGHPUT_SECONDS * 1000;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: THROUGHPUT_CLIENTS }, async (_, client) => {
      while (Date.now() < deadline) {
        const response = await trigger(apiKeys[client % apiKeys.length]!);
        if (response.status === 201 && !anyStatus) accepted.push(((await response.json()) as { id: string }).id);
        else (refused++, await response.arrayBuffer());
      }
    }),
  );
  return { organizations: apiKeys.length, elapsed: (Date.now() - started) / 1000, accepted, refused };
}

/** How many of these runs exist in either database. */
async function countStored(
  pool: (url: string) => ReturnType<typeof openPool>,
  databases: { legacy: string; runops: string },
  friendlyIds: string[],
): Promise<number> {
  const ids = friendlyIds.map((id) => id.slice("run_".length));
  let found = 0;
  for (const url of [databases.legacy, databases.runops]) {
    const client = pool(url);
    const { rows } = await client.query("select count(*)::int as n from runs where id = any($1)", [ids]);
    found += rows[0].n;
    await client.end();
  }
  return found;
}
