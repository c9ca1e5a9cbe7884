/**
 * Opens a Postgres pool with @neondatabase/serverless: the same driver in production (Neon over WebSocket)
 * and locally (embedded Postgres behind scripts/ws-proxy.ts). Runtime-neutral: the Worker and Node scripts
 * both use it. In a Worker a pool must not outlive its request: open one per request and close it.
 *
 * Why a WebSocket pool and not the driver's one-shot HTTP queries (`neon()`): the stores need interactive
 * transactions (insert-or-find on an idempotency key, a batch with its items, a suite with its cases), which
 * HTTP cannot carry, so the pool stays either way; a trigger's statements share the request's connection to each
 * database (its key lookup when not cached, admission, the run's insert, its dispatch mark; split off, admission
 * and insert are one statement); and the most HTTP could save is the connection's setup, measured in workerd
 * through the local proxy at about 1 ms per database (a fresh pool's first query p50 3 ms, p90 5 ms, against
 * 2 ms warm; the trigger's p50 is 64 ms). Neon's own HTTP endpoint cannot be measured from here.
 */
import { Pool, neonConfig } from "@neondatabase/serverless";

export interface ConnectOptions {
  /** ws:// URL of a local WebSocket→TCP proxy; unset against Neon. */
  wsProxy?: string;
  connectionTimeoutMillis?: number;
}

function configureDriver(wsProxy: string | undefined): void {
  if (!wsProxy) return;
  // The driver adds the scheme itself.
  const proxyHost = wsProxy.replace(/^wss?:\/\//, "");
  neonConfig.wsProxy = (host, port) => `${proxyHost}/v2?address=${host}:${port}`;
  neonConfig.useSecureWebSocket = false;
  neonConfig.pipelineTLS = false;
  // The embedded server uses cleartext `password` auth, which lets the driver pipeline startup and query.
  neonConfig.pipelineConnect = "password";
}

export function openPool(url: string, { wsProxy, connectionTimeoutMillis = 5_000 }: ConnectOptions = {}): Pool {
  configureDriver(wsProxy);
  const pool = new Pool({ connectionString: url, connectionTimeoutMillis });
  // After end(), sockets closing late raise "Network connection lost"; queries still reject on their own.
  pool.on("error", () => {});
  return pool;
}
