/**
 * Triggers against the local stack (`wrangler dev`, embedded Postgres through the WebSocket proxy, the real
 * queue), each beside its reference measured in the same run:
 * - latency, beside POST /bench/floor: one bare INSERT through the Worker's own driver in the same `wrangler dev`,
 *   the floor a one-round-trip trigger would hit. Targets: trigger p50 ≤ 1.5× it, phase 1 alone ≤ 1.3×.
 * - sustained triggers with execution paused (runs recorded and dispatched, the queue not consumed), for one
 *   organisation and for four: ≥ 100/s, none lost; with execution on, beside the delayed trigger's ceiling.
 */
import { loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { neonConfig } from "@neondatabase/serverless";
import ws from "ws";
import { type DevState, devStack } from "../scripts/dev-stack.ts";
import { seedTenant } from "../scripts/seed.ts";
import { openPool } from "../worker/store/database.ts";
import { AdmissionLedger } from "../worker/store/admission-store.ts";
import { mintCuid, mintId } from "../worker/store/ids.ts";
import { PostgresRunStore } from "../worker/store/postgres-store.ts";
import { machine, replaceResultsSection } from "./results.ts";
import { formatTable, mean, percentile, timed } from "./stats.ts";

neonConfig.webSocketConstructor = ws;

const LATENCY_SAMPLES = Number(process.env.BENCH_TRIGGERS ?? 300);
const THROUGHPUT_SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const THROUGHPUT_CLIENTS = 16;
const ORGANIZATIONS = 4;
const PAUSED_TARGET_PER_SECOND = 100;
const TRIGGER_TARGET = 1.5;
const PHASE_ONE_TARGET = 1.3;
/** How long the deferred dispatches of the last accepted triggers may take to be recorded. */
const DISPATCH_SETTLE_MS = 60_000;

type Row = Record<string, string | number>;

/** A started stack, its API keys (ORGANIZATIONS organisations without a limit) and one key whose runs stay QUEUED. */
interface BenchStack {
  state: DevState;
  keys: string[];
  queuedKey: string;
  pool: (url: string) => ReturnType<typeof openPool>;
}

async function withBenchStack<T>(env: Record<string, string>, use: (stack: BenchStack) => Promise<T>): Promise<T> {
  const stack = await devStack({ env: { BENCH_ROUTES: "true", ...env } });
  try {
    const state = await stack.start();
    // The driver as the Worker configures it locally (pipelined password auth through the proxy).
    const pool = (url: string) => openPool(url, { wsProxy: state.wsProxyUrl });
    const admin = pool(state.databases.legacy);
    const tenants = [];
    for (let i = 1; i < ORGANIZATIONS; i++) tenants.push(await seedTenant(admin, { slug: `bench-${i}` }));
    // Every admitted run takes the full path (admission, insert, queue send): no limit.
    await admin.query("update organizations set concurrency_limit = 1000000");
    // Except one organisation at a limit of 0, whose runs are recorded QUEUED and stay so: phase 1 alone.
    const queued = await seedTenant(admin, { slug: "bench-queued", concurrencyLimit: 0 });
    await admin.end();
    const keys = [state.apiKey, ...tenants.map((tenant) => tenant.apiKey)];
    return await use({ state, keys, queuedKey: queued.apiKey, pool });
  } finally {
    await stack.dispose();
  }
}

/** The sections of bench/RESULTS.md this bench writes, by the part of its answer each holds. */
export const TRIGGER_SECTIONS = {
  latency: "Trigger latency (local stack, sequential, execution paused) beside one INSERT by the Worker",
  statements: "A trigger's statements alone, beside the floor's INSERT (from Node, one warm connection per database)",
  throughput: "Sustained triggers: execution paused (recorded and dispatched, queue not consumed) and on",
  ceilings: "Where a trigger's time goes: throughput of ever larger parts of its path",
} as const;

export async function benchTrigger(): Promise<{
  latency: Row[];
  statements: Row[];
  throughput: Row[];
  ceilings: Row[];
}> {
  const paused = await withBenchStack({ EXECUTION_PAUSED: "true" }, async (stack) => ({
    latency: await measureLatency(stack, "run-ops (split on)"),
    throughput: [await sustainTriggers(stack, "paused", 1), await sustainTriggers(stack, "paused", ORGANIZATIONS)],
  }));
  // Split off, a run lives in legacy beside the admissions ledger: admitted and written in one statement.
  const splitOff = { EXECUTION_PAUSED: "true", RUN_OPS_SPLIT_ENABLED: "false" };
  const legacy = await withBenchStack(splitOff, async (stack) => ({
    latency: await measureLatency(stack, "legacy (split off)"),
    statements: await measureStatements(stack),
  }));
  const running = await withBenchStack({}, async (stack) => {
    const ceilings = await measureCeilings(stack);
    const delayedCeiling = `≈ ${(ceilings.at(-1)!["requests/s"] as number).toFixed(0)} (delayed-trigger ceiling)`;
    const throughput = [];
    for (const organizations of [1, ORGANIZATIONS]) {
      throughput.push(await sustainTriggers(stack, "on", organizations, delayedCeiling));
    }
    return { ceilings, throughput };
  });
  const throughput = [...paused.throughput, ...running.throughput];
  return {
    latency: [...paused.latency, ...legacy.latency],
    statements: legacy.statements,
    throughput,
    ceilings: running.ceilings,
  };
}

const triggerBody = (state: DevState, options?: Record<string, unknown>) =>
  JSON.stringify({ payload: { url: `${state.executorUrl}/healthz` }, options });

function trigger(
  state: DevState,
  apiKey: string,
  options?: Record<string, unknown>,
  task = "http-check",
): Promise<Response> {
  return fetch(`${state.apiUrl}/api/v1/tasks/${task}/trigger`, {
    method: "POST",
    headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
    body: triggerBody(state, options),
  });
}

const floor = (state: DevState) =>
  fetch(`${state.apiUrl}/bench/floor`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: triggerBody(state),
  });

/** The machine's 1-minute load average (2 cores, shared with other engineers' tests). */
const load = () => loadavg()[0]!.toFixed(1);

/**
 * Sequential requests, the kinds interleaved so that a busy moment of the machine falls on all of them
 * alike; execution is paused, so no run executes meanwhile. `runsIn` names the database runs are written to
 * (and the floor's INSERT goes to), with the load average before and after.
 */
async function measureLatency({ state, queuedKey }: BenchStack, runsIn: string): Promise<Row[]> {
  const unknownTask = () => trigger(state, state.apiKey, undefined, "no-such-task");
  const kinds: [string, () => Promise<Response>, number?][] = [
    ["POST /bench/floor: one INSERT through the Worker's driver (the reference)", () => floor(state)],
    ["POST /api/v1/tasks/http-check/trigger", () => trigger(state, state.apiKey), TRIGGER_TARGET],
    ["  recorded QUEUED (limit 0): phase 1 alone, no dispatch", () => trigger(state, queuedKey), PHASE_ONE_TARGET],
    ["  an unknown route: wrangler dev + workerd + Hono, no database", () => fetch(`${state.apiUrl}/nope`)],
    ["  an unknown task: + the key's rate limit, cached auth, validation (404), no database", unknownTask],
  ];
  const samples = kinds.map(() => [] as number[]);
  const loadBefore = load();
  for (let i = 0; i < LATENCY_SAMPLES; i++) {
    for (const [k, [, request]] of kinds.entries()) {
      samples[k]!.push(await timed(async () => (await request()).arrayBuffer()));
    }
  }
  const reference = percentile(samples[0]!, 50);
  const loadAverage = `${loadBefore} → ${load()}`;
  return kinds.map(([name, , target], k) => {
    const ratio = percentile(samples[k]!, 50) / reference;
    return {
      "runs in": runsIn,
      case: name,
      "p50 ms": percentile(samples[k]!, 50),
      "p99 ms": percentile(samples[k]!, 99),
      "mean ms": mean(samples[k]!),
      "p50 / reference": ratio,
      target: target ? `≤ ${target}` : "",
      holds: target ? (ratio <= target ? "yes" : "no") : "",
      "load average": loadAverage,
    };
  });
}

/** POST /bench/floor's statement and its table (worker/bench-floor.ts, which the Worker's types keep out of here). */
const INSERT_FLOOR_ROW = "insert into bench_floor (id, payload) values ($1, $2)";
const CREATE_FLOOR_TABLE = "create table if not exists bench_floor (id text primary key, payload jsonb not null)";

/**
 * A trigger's statements alone, from Node over one warm connection per database (the proxy's hop included, the
 * Worker's left out), interleaved, beside `select 1` and the floor's INSERT: what the databases cost of a trigger.
 */
async function measureStatements({ state, pool }: BenchStack): Promise<Row[]> {
  const legacy = pool(state.databases.legacy);
  const runOps = pool(state.databases.runops);
  try {
    const tenant = await seedTenant(legacy, { slug: "bench-statements", concurrencyLimit: 1_000_000 });
    const ledger = new AdmissionLedger(legacy);
    const runOpsStore = new PostgresRunStore("new", runOps);
    const run = { ...tenant, task: "http-check", status: "PENDING" as const, payload: { url: "http://127.0.0.1/" } };
    const floorRow = () => [crypto.randomUUID(), run.payload];
    await legacy.query(CREATE_FLOOR_TABLE);
    const kinds: [string, () => Promise<unknown>][] = [
      ["select 1 (legacy)", () => legacy.query("select 1")],
      ["the floor's INSERT (legacy)", () => legacy.query(INSERT_FLOOR_ROW, floorRow())],
      [
        "split off: admission + the run's insert, one statement (legacy)",
        () => ledger.admitLegacyRun({ ...run, id: mintId("legacy") }),
      ],
      [
        "split on, 1st: admission (legacy)",
        () =>
          ledger.admit({ organizationId: tenant.organizationId, runs: [{ runId: mintId("new"), residency: "new" }] }),
      ],
      ["split on, 2nd: the run's insert (run-ops)", () => runOpsStore.insertRun(mintId("new"), run)],
    ];
    const samples = kinds.map(() => [] as number[]);
    const loadBefore = load();
    for (let i = 0; i < LATENCY_SAMPLES; i++) {
      for (const [k, [, statement]] of kinds.entries()) samples[k]!.push(await timed(statement));
    }
    const loadAverage = `${loadBefore} → ${load()}`;
    const reference = percentile(samples[1]!, 50);
    return kinds.map(([name], k) => ({
      statement: name,
      "p50 ms": percentile(samples[k]!, 50),
      "p99 ms": percentile(samples[k]!, 99),
      "p50 / the floor's INSERT": percentile(samples[k]!, 50) / reference,
      "load average": loadAverage,
    }));
  } finally {
    await Promise.all([legacy.end(), runOps.end()]);
  }
}

/** Requests/s of ever larger parts of a trigger's path, 16 clients each, every answer counted. */
async function measureCeilings({ state }: BenchStack): Promise<Row[]> {
  const headers = { authorization: `Bearer ${state.apiKey}` };
  const unknownRun = () => fetch(`${state.apiUrl}/api/v1/runs/run_${mintCuid()}`, { headers });
  const parts: [string, () => Promise<Response>][] = [
    ["unknown route (wrangler dev + workerd + Hono)", () => fetch(`${state.apiUrl}/nope`)],
    ["GET /healthz (+ a query on each database)", () => fetch(`${state.apiUrl}/healthz`)],
    ["POST /bench/floor (+ one INSERT)", () => floor(state)],
    ["GET /api/v1/runs/:id, unknown (+ auth + a read)", unknownRun],
    ["delayed trigger (+ admission + insert + RunDO alarm)", () => trigger(state, state.apiKey, { delay: "1h" })],
  ];
  const ceilings: Row[] = [];
  for (const [name, request] of parts) {
    const loadBefore = load();
    const { elapsed, answered } = await sustain(() => request(), [state.apiKey]);
    ceilings.push({
      "path (16 clients)": name,
      "requests/s": answered / elapsed,
      "load average": `${loadBefore} → ${load()}`,
    });
  }
  return ceilings;
}

/**
 * Sustained triggers spread over `organizations` keys; every accepted run must be stored and, paused, dispatched
 * and still PENDING (no consumer took it).
 */
async function sustainTriggers(
  stack: BenchStack,
  execution: "paused" | "on",
  organizations: number,
  reference = `≥ ${PAUSED_TARGET_PER_SECOND}`,
): Promise<Row> {
  const keys = stack.keys.slice(0, organizations);
  const loadBefore = load();
  const { elapsed, accepted, answered } = await sustain((apiKey) => trigger(stack.state, apiKey), keys);
  const loadAverage = `${loadBefore} → ${load()}`;
  const ids = accepted.map((id) => id.slice("run_".length));
  const stored = await countRuns(stack, ids, "true");
  // Paused, each run must also have gone out on the queue (its dispatch follows the answer).
  const dispatched = execution === "paused" ? await waitForDispatched(stack, ids) : "";
  const perSecond = accepted.length / elapsed;
  const holds = perSecond >= PAUSED_TARGET_PER_SECOND && dispatched === stored && stored === ids.length;
  return {
    execution,
    organizations,
    clients: THROUGHPUT_CLIENTS,
    seconds: elapsed,
    "triggers/s": perSecond,
    "target / reference": reference,
    holds: execution === "on" ? "" : holds ? "yes" : "no",
    accepted: accepted.length,
    refused: answered - accepted.length,
    "lost (accepted, not stored)": ids.length - stored,
    "dispatched, not consumed": dispatched,
    "load average": loadAverage,
  };
}

/**
 * THROUGHPUT_CLIENTS clients, spread over `apiKeys`, send back to back for THROUGHPUT_SECONDS; the ids of
 * the runs accepted (201) are collected.
 */
async function sustain(send: (apiKey: string) => Promise<Response>, apiKeys: string[]) {
  const accepted: string[] = [];
  let answered = 0;
  const deadline = Date.now() + THROUGHPUT_SECONDS * 1000;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: THROUGHPUT_CLIENTS }, async (_, client) => {
      while (Date.now() < deadline) {
        const response = await send(apiKeys[client % apiKeys.length]!);
        answered++;
        if (response.status === 201) accepted.push(((await response.json()) as { id: string }).id);
        else await response.arrayBuffer();
      }
    }),
  );
  return { elapsed: (Date.now() - started) / 1000, accepted, answered };
}

/** How many of these runs, in either database, match `condition`. */
async function countRuns({ pool, state }: BenchStack, ids: string[], condition: string): Promise<number> {
  let found = 0;
  for (const url of [state.databases.legacy, state.databases.runops]) {
    const client = pool(url);
    try {
      const query = `select count(*)::int as n from runs where id = any($1) and ${condition}`;
      const { rows } = await client.query(query, [ids]);
      found += rows[0].n;
    } finally {
      await client.end();
    }
  }
  return found;
}

/** Dispatch follows each answer: the runs dispatched and left PENDING, once all are or by the deadline. */
async function waitForDispatched(stack: BenchStack, ids: string[]): Promise<number> {
  const deadline = Date.now() + DISPATCH_SETTLE_MS;
  for (;;) {
    const dispatched = await countRuns(stack, ids, "dispatched_at is not null and status = 'PENDING'");
    if (dispatched === ids.length || Date.now() > deadline) return dispatched;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const figures = await benchTrigger();
  const stamp = `${new Date().toISOString()} · ${machine()} · \`node bench/trigger.ts\``;
  for (const [part, title] of Object.entries(TRIGGER_SECTIONS)) {
    const table = formatTable(figures[part as keyof typeof TRIGGER_SECTIONS]);
    console.log(`\n${title}\n\n${table}`);
    replaceResultsSection(title, `${stamp}\n\n${table}`);
  }
}
