/**
 * The Worker's settings, validated by zod from wrangler vars and secrets (DESIGN §10). Parsed once per
 * isolate; a missing or malformed setting fails every request with a message naming it.
 */
import * as z from "zod";
import { parseSettings } from "../schema/settings.ts";

const postgresUrl = z.url({ protocol: /^postgres(ql)?$/, error: "must be a postgres:// URL" });
const flag = z.enum(["true", "false"], { error: 'must be "true" or "false"' }).transform((value) => value === "true");

const schema = z
  .object({
    LEGACY_DATABASE_URL: postgresUrl,
    RUNOPS_DATABASE_URL: postgresUrl.optional(),
    LEGACY_REPLICA_URL: postgresUrl.optional(),
    RUNOPS_REPLICA_URL: postgresUrl.optional(),
    RUN_OPS_SPLIT_ENABLED: flag.default(false),
    /** Local stack and tests only: the WebSocket→TCP proxy in front of embedded Postgres. */
    DATABASE_WS_PROXY: z.url({ protocol: /^wss?$/, error: "must be a ws:// URL" }).optional(),
    /** Local stack and tests: the executor process. Unset in production, where the Container binding is used. */
    EXECUTOR_URL: z.url({ protocol: /^https?$/ }).optional(),
    EXECUTOR_SHARED_SECRET: z.string().min(16, "must be at least 16 characters"),
    /** Signs run-scoped executor tokens, public access tokens and waitpoint callback URLs. */
    SIGNING_SECRET: z.string().min(32, "must be at least 32 characters"),
    GITHUB_APP_ID: z.string().optional(),
    GITHUB_PRIVATE_KEY: z.string().optional(),
    GITHUB_WEBHOOK_SECRET: z.string().optional(),
    GITHUB_API_URL: z.url().default("https://api.github.com"),
    /** Where people install the App and where OAuth codes are exchanged (GitHub's web host, not its API). */
    GITHUB_WEB_URL: z.url().default("https://github.com"),
    /** The App's slug (github.com/apps/<slug>): its install URL. */
    GITHUB_APP_SLUG: z.string().regex(/^[a-z0-9-]{1,100}$/, "must be the App's slug").optional(),
    /** The App's OAuth client: the setup URL checks the installing user can see the installation it binds. */
    GITHUB_CLIENT_ID: z.string().optional(),
    GITHUB_CLIENT_SECRET: z.string().optional(),
    PUBLIC_URL: z.url().optional(),
    /**
     * How long opening a database connection may take before the request answers 503. Neon answers in well
     * under a second; the local stack and the tests raise it, since a busy two-core machine can take longer.
     */
    DATABASE_CONNECT_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(5_000),
    /** Local stack only: a deployment's target_url may name a private address (the egress policy, DESIGN §11). */
    ALLOW_PRIVATE_TARGETS: flag.default(false),
    /** An executing run silent for this long is retried or CRASHED. */
    HEARTBEAT_TIMEOUT_MS: z.coerce.number().int().min(1_000).max(600_000).default(30_000),
    /** The bench's local stack only: mounts POST /bench/floor (worker/bench-floor.ts). Off in production. */
    BENCH_ROUTES: flag.default(false),
  })
  .refine((config) => !config.RUN_OPS_SPLIT_ENABLED || config.RUNOPS_DATABASE_URL, {
    path: ["RUNOPS_DATABASE_URL"],
    message: "required when RUN_OPS_SPLIT_ENABLED is true",
  });

export type Config = z.infer<typeof schema>;

const parsed = new WeakMap<object, Config>();

export function loadConfig(env: object): Config {
  let config = parsed.get(env);
  if (!config) {
    config = parseSettings(schema, env, "Worker");
    parsed.set(env, config);
  }
  return config;
}
