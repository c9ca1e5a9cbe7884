/** A real round trip to each configured store, for /healthz. */
import type { Config } from "../config.ts";
import { openPool } from "./pool.ts";

export type StoreName = "legacy" | "new";
export type StoreHealth =
  | { status: "ok"; latencyMs: number }
  | { status: "unavailable" }
  | { status: "not configured" };

const PING_TIMEOUT_MS = 3_000;

async function ping(url: string, config: Config, waitUntil: (p: Promise<unknown>) => void): Promise<StoreHealth> {
  const started = Date.now();
  const pool = openPool(url, { wsProxy: config.DATABASE_WS_PROXY, connectionTimeoutMillis: PING_TIMEOUT_MS });
  try {
    await pool.query("select 1");
    return { status: "ok", latencyMs: Date.now() - started };
  } catch (error) {
    // The driver's message may name hosts or users: the log gets it, the public health answer does not.
    const reason = error instanceof Error ? error.message || error.name : String(error);
    console.error(`healthz: store unreachable: ${reason}`);
    return { status: "unavailable" };
  } finally {
    waitUntil(pool.end().catch(() => {}));
  }
}

export async function checkStores(
  config: Config,
  waitUntil: (p: Promise<unknown>) => void,
): Promise<Record<StoreName, StoreHealth>> {
  const [legacy, runOps] = await Promise.all([
    ping(config.LEGACY_DATABASE_URL, config, waitUntil),
    config.RUNOPS_DATABASE_URL
      ? ping(config.RUNOPS_DATABASE_URL, config, waitUntil)
      : ({ status: "not configured" } as const),
  ]);
  return { legacy, new: runOps };
}
