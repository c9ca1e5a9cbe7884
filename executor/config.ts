import { tmpdir } from "node:os";
import { join } from "node:path";
import * as z from "../schema/zod.ts";
import { parseSettings } from "../schema/settings.ts";

const integer = (min: number, max: number, fallback: number) =>
  z._default(z.coerce.number().check(z.int(), z.minimum(min), z.maximum(max)), fallback);
const onOff = z._default(z.stringbool(), false);

const schema = z.object({
  /** 0 picks a free port (tests). */
  PORT: integer(0, 65_535, 8080),
  HOST: z._default(z.string(), "0.0.0.0"),
  EXECUTOR_SHARED_SECRET: z.string().check(z.minLength(16, "must be at least 16 characters")),
  /** The Worker's base URL: its /internal endpoints and the live WebSocket a waiting case listens on. */
  WORKER_URL: z.url({ protocol: /^https?$/ }),
  /** Cases run at once. One browser case per 2 cores is the measured sweet spot. */
  EXECUTOR_CONCURRENCY: integer(1, 64, 1),
  /** Jobs accepted and waiting for a slot; past it the executor answers 503 and the queue retries later. */
  EXECUTOR_BACKLOG: integer(0, 10_000, 100),
  HEARTBEAT_INTERVAL_MS: integer(100, 60_000, 10_000),
  /** On SIGTERM, how long running cases may take to finish before they are stopped and handed back. */
  SHUTDOWN_GRACE_MS: integer(0, 600_000, 25_000),
  /**
   * Let browser cases and http-checks reach loopback, private and link-local addresses: for the local stack and
   * tests, whose sites are on 127.0.0.1. Never in production (the egress policy, DESIGN §11).
   */
  ALLOW_PRIVATE_TARGETS: onOff,
  /** Chromium's own lookups resolve every name but 127.0.0.1 to nothing: for closed networks (local stack, CI). */
  BROWSER_LOOPBACK_ONLY: onOff,
  /** The GitHub App that posts check runs; without both, check runs are off. */
  GITHUB_APP_ID: z.optional(z.string().check(z.regex(/^\d+$/, "must be the App's numeric id"))),
  GITHUB_PRIVATE_KEY: z.optional(z.string().check(z.includes("PRIVATE KEY", { message: "must be a PEM private key" }))),
  GITHUB_API_URL: z._default(z.url({ protocol: /^https?$/ }), "https://api.github.com"),
  /**
   * Run repository suites, whose test code is the repository's own Node code: it runs as this process's user and
   * outside the egress proxy, so only where the executor has nothing else to protect or reach (the local stack,
   * a per-run sandbox). Off by default: their setup runs then fail saying so.
   */
  RUN_REPOSITORY_CODE: onOff,
  /** Repository suites: where installs are cached by lockfile hash, and the caps on `npm ci`. */
  SPEC_CACHE_DIR: z._default(z.string().check(z.minLength(1)), join(tmpdir(), "flightcheck-spec-cache")),
  SPEC_INSTALL_TIMEOUT_MS: integer(1_000, 3_600_000, 300_000),
  SPEC_INSTALL_MAX_BYTES: integer(1_000_000, 20_000_000_000, 1_000_000_000),
});

export type ExecutorConfig = z.infer<typeof schema>;

export const loadExecutorConfig = (env: NodeJS.ProcessEnv): ExecutorConfig => parseSettings(schema, env, "executor");
