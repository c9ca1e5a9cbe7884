import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";
import { FAKE_CLIENT_ID, FAKE_CLIENT_SECRET } from "../scripts/local-github.ts";
import { unitProject } from "./vitest.unit.config.ts";

// One embedded Postgres (both databases), the WebSocket proxy and the executor are started once by the
// global setup and shared by two projects: the Worker in the real Workers runtime, and Node-side code.
export default defineConfig({
  // Paths below are relative to the repository root, one folder up.
  root: fileURLToPath(new URL("..", import.meta.url)),
  test: {
    globalSetup: ["./test/support/global-setup.ts"],
    // Deadlines, not waits: every test waits on its condition, and a busy two-core machine may take long.
    testTimeout: 120_000,
    hookTimeout: 300_000,
    projects: [
      unitProject,
      {
        test: { name: "worker", include: ["test/worker/**/*.test.ts"] },
        plugins: [
          cloudflareTest(({ inject }) => ({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              bindings: {
                LEGACY_DATABASE_URL: inject("legacyDatabaseUrl"),
                RUNOPS_DATABASE_URL: inject("runopsDatabaseUrl"),
                RUN_OPS_SPLIT_ENABLED: "true",
                DATABASE_WS_PROXY: inject("wsProxyUrl"),
                DATABASE_CONNECT_TIMEOUT_MS: "60000",
                EXECUTOR_URL: inject("executorUrl"),
                EXECUTOR_SHARED_SECRET: inject("executorSecret"),
                SIGNING_SECRET: "test-signing-secret-0123456789abcdef",
                TEST_API_KEY: inject("apiKey"),
                GITHUB_WEBHOOK_SECRET: "test-webhook-secret",
                GITHUB_API_URL: inject("githubUrl"),
                GITHUB_WEB_URL: inject("githubUrl"),
                GITHUB_APP_SLUG: "flightcheck-test",
                GITHUB_CLIENT_ID: FAKE_CLIENT_ID,
                GITHUB_CLIENT_SECRET: FAKE_CLIENT_SECRET,
              },
              // Tight twins of wrangler.toml's limiters, for tests that must reach a limit in a few requests.
              ratelimits: {
                TIGHT_API_KEY_RATE_LIMITER: { namespace_id: "9401", simple: { limit: 3, period: 60 } },
                TIGHT_UNAUTHENTICATED_RATE_LIMITER: { namespace_id: "9402", simple: { limit: 3, period: 60 } },
              },
            },
          })),
        ],
      },
      {
        test: { name: "node", include: ["test/node/**/*.test.ts"], environment: "node" },
      },
      {
        // Each file runs the whole local stack: one at a time, so they neither race for ports nor starve
        // each other of the two cores.
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          environment: "node",
          fileParallelism: false,
          testTimeout: 300_000,
        },
      },
    ],
  },
});
