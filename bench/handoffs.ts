/**
 * Two hand-offs a user waits on, on the local stack, each timed by the Worker's own timestamps:
 * - trigger → executor claim: a one-step browser case triggered while nothing else runs, from the moment the
 *   request leaves the client to the run's startedAt (written when the executor's claim is accepted).
 *   Target ≤ 250 ms (trigger.dev publishes 100–300 ms warm starts).
 * - queued-run promotion: an organisation at a limit of 1 with a line of QUEUED http-checks, from a run's
 *   completedAt to the next run's admittedAt (written by the request that freed the slot). Target ≤ 100 ms.
 */
import { neonConfig } from "@neondatabase/serverless";
import ws from "ws";
import { type DevState, strictApiClient } from "../scripts/dev-stack.ts";
import { isFinal } from "../schema/run-states.ts";
import { openPool } from "../worker/store/database.ts";
import { percentile } from "./stats.ts";

neonConfig.webSocketConstructor = ws;

const CLAIM_SAMPLES = Number(process.env.BENCH_CLAIM_SAMPLES ?? 20);
const PROMOTION_SAMPLES = Number(process.env.BENCH_PROMOTION_SAMPLES ?? 30);

type Row = Record<string, string | number>;

async function finished(state: DevState, runId: string) {
  const api = strictApiClient(state);
  const deadline = Date.now() + 60_000;
  for (;;) {
    const run = await api("GET", `/api/v1/runs/${runId}`);
    if (isFinal(run.status)) return run;
    if (Date.now() > deadline) throw new Error(`${runId} did not finish (${run.status})`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function claimLatencies(state: DevState, baseUrl: string): Promise<number[]> {
  const api = strictApiClient(state);
  const latencies: number[] = [];
  const payload = { baseUrl, case: { name: "opens the home page", steps: [{ action: "goto", url: "/" }] } };
  for (let sample = 0; sample < CLAIM_SAMPLES; sample++) {
    const sent = Date.now();
    const { id } = await api("POST", "/api/v1/tasks/browser-case/trigger", { payload });
    const run = await finished(state, id);
    if (run.status !== "COMPLETED") throw new Error(`${id} ended ${run.status}: ${JSON.stringify(run.error)}`);
    latencies.push(Date.parse(run.startedAt) - sent);
  }
  return latencies;
}

/** Completed run → next queued run admitted, for a line of http-checks behind a limit of 1. */
async function promotionLatencies(state: DevState): Promise<number[]> {
  const api = strictApiClient(state);
  const pools = {
    legacy: openPool(state.databases.legacy, { wsProxy: state.wsProxyUrl }),
    runops: openPool(state.databases.runops, { wsProxy: state.wsProxyUrl }),
  };
  // The dev stack seeds one organisation.
  const {
    rows: [organization],
  } = await pools.legacy.query(`select id, concurrency_limit as "limit" from organizations`);
  await pools.legacy.query("update organizations set concurrency_limit = 1 where id = $1", [organization.id]);
  try {
    const ids: string[] = [];
    for (let sample = 0; sample <= PROMOTION_SAMPLES; sample++) {
      ids.push(
        (await api("POST", "/api/v1/tasks/http-check/trigger", { payload: { url: `${state.executorUrl}/healthz` } }))
          .id,
      );
    }
    await finished(state, ids.at(-1)!);
    const internal = ids.map((id) => id.replace(/^run_/, ""));
    const times = new Map<string, { admitted: number; completed: number }>();
    for (const pool of Object.values(pools)) {
      const { rows } = await pool.query("select id, admitted_at, completed_at from runs where id = any($1)", [
        internal,
      ]);
      for (const row of rows)
        times.set(row.id, { admitted: row.admitted_at.getTime(), completed: row.completed_at.getTime() });
    }
    // The first run was admitted at once; each later one waited for the one before it.
    return internal.slice(1).map((id, index) => times.get(id)!.admitted - times.get(internal[index]!)!.completed);
  } finally {
    await pools.legacy.query("update organizations set concurrency_limit = $2 where id = $1", [
      organization.id,
      organization.limit,
    ]);
    await Promise.all(Object.values(pools).map((pool) => pool.end()));
  }
}

export async function benchHandoffs(state: DevState, baseUrl: string): Promise<Row[]> {
  const claims = await claimLatencies(state, baseUrl);
  const promotions = await promotionLatencies(state);
  const row = (handoff: string, samples: number[], target: number) => ({
    "hand-off": handoff,
    samples: samples.length,
    "p50 ms": percentile(samples, 50),
    "p99 ms": percentile(samples, 99),
    "target p50 ms": `≤ ${target}`,
  });
  return [
    row("trigger sent → executor claimed the run (browser case, idle stack)", claims, 250),
    row("a run completed → the next QUEUED run admitted (limit 1)", promotions, 100),
  ];
}
