/**
 * The two databases as the local stack, the tests and the benchmarks use them: embedded PostgreSQL with
 * `legacy` and `runops`, the WebSocket proxy in front, and the migrations applied.
 */
import { migrateAll } from "./migrate.ts";
import { freePort } from "./net.ts";
import { startPostgres } from "./postgres.ts";
import { startWsProxy } from "./ws-proxy.ts";

export interface LocalDatabases {
  urls: { legacy: string; runops: string };
  wsProxyUrl: string;
  stop(): Promise<void>;
}

export interface LocalDatabaseOptions {
  dataDir: string;
  /** Fixed ports for the local stack; free ones otherwise. */
  postgresPort?: number;
  proxyPort?: number;
  /** Extra server settings, e.g. ["-c", "fsync=off"] for throwaway test data. */
  flags?: string[];
}

export async function startLocalDatabases({
  dataDir,
  postgresPort,
  proxyPort = 0,
  flags,
}: LocalDatabaseOptions): Promise<LocalDatabases> {
  const postgres = await startPostgres({ dataDir, port: postgresPort ?? (await freePort()), flags });
  const proxy = await startWsProxy(proxyPort);
  try {
    await migrateAll({ legacy: postgres.urls.legacy, runops: postgres.urls.runops, wsProxy: proxy.url });
  } catch (error) {
    await proxy.close();
    await postgres.stop();
    throw error;
  }
  return {
    urls: postgres.urls,
    wsProxyUrl: proxy.url,
    stop: async () => {
      await proxy.close();
      await postgres.stop();
    },
  };
}
