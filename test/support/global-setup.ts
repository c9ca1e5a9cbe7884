/**
 * Starts the real parts the tests talk to, once per `vitest run`: embedded PostgreSQL with the `legacy` and
 * `runops` databases (fresh, migrated, seeded), the WebSocket→TCP proxy in front of it, the executor, a site to
 * test and the local stand-in for GitHub.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { loadExecutorConfig } from "../../executor/config.ts";
import { startExecutorServer } from "../../executor/server.ts";
import { startLocalDatabases } from "../../scripts/local-databases.ts";
import { generateAppKeyPair, startFakeGitHub } from "../../scripts/local-github.ts";
import { startSite } from "./site.ts";
import { seedTenant } from "../../scripts/seed.ts";
import { connect } from "../../worker/store/database.ts";
import { startWsProxy } from "../../scripts/ws-proxy.ts";
import { browserAdvice, findChromium } from "../../scripts/require-browser.ts";

export default async function setup(project: TestProject) {
  // Half the suite drives Chromium: without one, one line saying what to do beats dozens of failures.
  if (!findChromium()) {
    console.error(`\nnpm test needs Chromium and none was found. ${browserAdvice()}\n`);
    process.exit(1);
  }
  const dataDir = mkdtempSync(join(tmpdir(), "flightcheck-test-pg-"));
  // 200-writer races open a connection per writer and store: room for them.
  const databases = await startLocalDatabases({ dataDir, flags: ["-c", "fsync=off", "-c", "max_connections=1000"] });
  const { urls, wsProxyUrl } = databases;

  const legacy = connect(urls.legacy, { wsProxy: wsProxyUrl });
  const tenant = await seedTenant(legacy.pool, { slug: "test" });
  await legacy.close();

  const executorSecret = "test-executor-secret-0123456789";
  // The Worker under test (vitest's Workers runtime) has no address to call back on: the jobs this executor
  // accepts from it fail to claim, quietly. The end-to-end tests run the whole loop on `npm run dev`'s stack.
  const quiet = { info() {}, warn() {}, error() {} };
  const executor = await startExecutorServer(
    loadExecutorConfig({
      PORT: "0",
      HOST: "127.0.0.1",
      EXECUTOR_SHARED_SECRET: executorSecret,
      WORKER_URL: "http://127.0.0.1:9",
      // The sites under test listen on 127.0.0.1.
      ALLOW_PRIVATE_TARGETS: "true",
    }),
    quiet,
  );

  const countingProxy = await startWsProxy();
  const site = await startSite();
  // The installing person's OAuth and their installations, for the App's setup URL.
  const github = await startFakeGitHub({ appId: "1", publicKey: generateAppKeyPair().publicKey });

  project.provide("legacyDatabaseUrl", urls.legacy);
  project.provide("runopsDatabaseUrl", urls.runops);
  project.provide("wsProxyUrl", wsProxyUrl);
  project.provide("countingProxyUrl", countingProxy.url);
  project.provide("executorUrl", executor.url);
  project.provide("executorSecret", executorSecret);
  project.provide("apiKey", tenant.apiKey);
  project.provide("siteUrl", site.url);
  project.provide("githubUrl", github.url);

  return async () => {
    await Promise.all([site.close(), github.close(), countingProxy.close()]);
    await executor.close();
    await databases.stop();
    rmSync(dataDir, { recursive: true, force: true });
  };
}
