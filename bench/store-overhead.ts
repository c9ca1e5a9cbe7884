/**
 * What the RunStore costs over the database: a routed insert + read (routing, drizzle, idempotency-safe
 * insert, error translation) against the same two statements on a bare client, side by side in one run,
 * on the same embedded Postgres through the same driver and proxy. Target: ratio ≤ 1.2×.
 *
 *   node bench/store-overhead.ts   (or npm run bench for all)
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { neonConfig } from "@neondatabase/serverless";
import ws from "ws";
import { startLocalDatabases } from "../scripts/local-databases.ts";
import { loadConfig } from "../worker/config.ts";
import { openPool } from "../worker/store/database.ts";
import { mintCuid, mintKsuid } from "../worker/store/ids.ts";
import { openStores } from "../worker/store/open.ts";
import { formatTable, mean, percentile, timed } from "./stats.ts";

neonConfig.webSocketConstructor = ws;

const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 1000);
const WARMUP = 100;

export async function benchStoreOverhead(): Promise<Record<string, string | number>[]> {
  const dataDir = mkdtempSync(join(tmpdir(), "flightcheck-bench-"));
  const databases = await startLocalDatabases({ dataDir, flags: ["-c", "fsync=off"] });
  const config = loadConfig({
    LEGACY_DATABASE_URL: databases.urls.legacy,
    RUNOPS_DATABASE_URL: databases.urls.runops,
    RUN_OPS_SPLIT_ENABLED: "true",
    DATABASE_WS_PROXY: databases.wsProxyUrl,
    EXECUTOR_SHARED_SECRET: "bench-secret-0123456789",
    SIGNING_SECRET: "bench-signing-secret-0123456789abcdef",
  });
  const stores = openStores(config);
  const store = stores.runs;
  const bare = openPool(databases.urls.runops, { wsProxy: databases.wsProxyUrl });
  const owner = { organizationId: mintCuid(), projectId: mintCuid(), environmentId: mintCuid() };
  const payload = { url: "http://127.0.0.1:3000/", expectStatus: 200 };

  const routed = async () => {
    const { record } = await store.createRun({ ...owner, task: "http-check", status: "PENDING", payload });
    await store.findRun(owner.environmentId, record.id);
  };
  const direct = async () => {
    const id = mintKsuid();
    await bare.query(
      `insert into runs (id, organization_id, project_id, environment_id, task, status, payload)
       values ($1, $2, $3, $4, $5, $6, $7) returning *`,
      [id, owner.organizationId, owner.projectId, owner.environmentId, "http-check", "PENDING", payload],
    );
    await bare.query("select * from runs where id = $1 and environment_id = $2", [id, owner.environmentId]);
  };

  try {
    for (let i = 0; i < WARMUP; i++) await Promise.all([routed(), direct()]);
    const samples = { routed: [] as number[], bare: [] as number[] };
    // Alternate, so drift in the machine's load falls on both sides alike.
    for (let i = 0; i < ITERATIONS; i++) {
      samples.bare.push(await timed(direct));
      samples.routed.push(await timed(routed));
    }
    const row = (name: string, s: number[]) => ({
      case: name,
      "p50 ms": percentile(s, 50),
      "p99 ms": percentile(s, 99),
      "mean ms": mean(s),
    });
    return [
      row("bare client: insert + select", samples.bare),
      row("RunStore: createRun + findRun", samples.routed),
      {
        case: "ratio (RunStore / bare), target ≤ 1.2",
        "p50 ms": percentile(samples.routed, 50) / percentile(samples.bare, 50),
        "p99 ms": percentile(samples.routed, 99) / percentile(samples.bare, 99),
        "mean ms": mean(samples.routed) / mean(samples.bare),
      },
    ];
  } finally {
    await stores.close();
    await bare.end();
    await databases.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (import.meta.main) console.log(formatTable(await benchStoreOverhead()));
