/**
 * Starts the real parts the tests talk to, once per `vitest run`: embedded PostgreSQL with the `legacy` and
 * `runops` databases (fresh, migrated, seeded), the WebSocket→TCP proxy in front of it, and the executor.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import * as controlPlane from "../../schema/control-plane.ts";
import { startExecutorServer } from "../../executor/server.ts";
import { migrateAll } from "../../scripts/migrate.ts";
import { freePort } from "../../scripts/net.ts";
import { startPostgres } from "../../scripts/postgres.ts";
import { seedTenant } from "../../scripts/seed.ts";
import { startWsProxy } from "../../scripts/ws-proxy.ts";
import { connect } from "../../worker/store/database.ts";

export default async function setup(project: TestProject) {
  const dataDir = mkdtempSync(join(tmpdir(), "flightcheck-test-pg-"));
  const postgres = await startPostgres({ dataDir, port: await freePort(), flags: ["-c", "fsync=off"] });
  const proxy = await startWsProxy();
  await migrateAll({ legacy: postgres.urls.legacy, runops: postgres.urls.runops, wsProxy: proxy.url });

  const legacy = connect(postgres.urls.legacy, controlPlane, { wsProxy: proxy.url });
  const tenant = await seedTenant(legacy.db, { slug: "test" });
  await legacy.close();

  const executorSecret = "test-executor-secret-0123456789";
  const executor = await startExecutorServer({
    PORT: 0,
    HOST: "127.0.0.1",
    EXECUTOR_SHARED_SECRET: executorSecret,
    EXECUTOR_CONCURRENCY: 1,
  });

  project.provide("legacyDatabaseUrl", postgres.urls.legacy);
  project.provide("runopsDatabaseUrl", postgres.urls.runops);
  project.provide("wsProxyUrl", proxy.url);
  project.provide("executorUrl", executor.url);
  project.provide("executorSecret", executorSecret);
  project.provide("apiKey", tenant.apiKey);

  return async () => {
    await executor.close();
    await proxy.close();
    await postgres.stop();
    rmSync(dataDir, { recursive: true, force: true });
  };
}
