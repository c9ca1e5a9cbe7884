import * as z from "zod";
import { parseSettings } from "../schema/settings.ts";

const schema = z.object({
  /** 0 picks a free port (tests). */
  PORT: z.coerce.number().int().min(0).max(65_535).default(8080),
  HOST: z.string().default("0.0.0.0"),
  EXECUTOR_SHARED_SECRET: z.string().min(16, "must be at least 16 characters"),
  /** The Worker's base URL: its /internal endpoints and the live WebSocket a waiting case listens on. */
  WORKER_URL: z.url({ protocol: /^https?$/ }),
  /** Cases run at once. One browser case per 2 cores is the measured sweet spot. */
  EXECUTOR_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(1),
  /** Jobs accepted and waiting for a slot; past it the executor answers 503 and the queue retries later. */
  EXECUTOR_BACKLOG: z.coerce.number().int().min(0).max(10_000).default(100),
  HEARTBEAT_INTERVAL_MS: z.coerce.number().int().min(100).max(60_000).default(10_000),
  /** On SIGTERM, how long running cases may take to finish before they are stopped and handed back. */
  SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).max(600_000).default(25_000),
  /**
   * Let browser cases and http-checks reach loopback, private and link-local addresses: for the local stack and
   * tests, whose sites are on 127.0.0.1. Never in production (the egress policy, DESIGN §11).
   */
  ALLOW_PRIVATE_TARGETS: z.stringbool().default(false),
  /** Chromium's own lookups resolve every name but 127.0.0.1 to nothing: for closed networks (local stack, CI). */
  BROWSER_LOOPBACK_ONLY: z.stringbool().default(false),
  /** The GitHub App that posts check runs; without both, check runs are off. */
  GITHUB_APP_ID: z.string().regex(/^\d+$/, "must be the App's numeric id").optional(),
  GITHUB_PRIVATE_KEY: z.string().includes("PRIVATE KEY", { message: "must be a PEM private key" }).optional(),
  GITHUB_API_URL: z.url({ protocol: /^https?$/ }).default("https://api.github.com"),
});

export type ExecutorConfig = z.infer<typeof schema>;

export const loadExecutorConfig = (env: NodeJS.ProcessEnv): ExecutorConfig => parseSettings(schema, env, "executor");
