/**
 * The Worker's settings, validated by zod from wrangler vars and secrets (DESIGN §10). Parsed once per
 * isolate; a missing or malformed setting fails every request with a message naming it.
 */
import * as z from "../schema/zod.ts";
import { parseSettings } from "../schema/settings.ts";

const postgresUrl = z.url({ protocol: /^postgres(ql)?$/, error: "must be a postgres:// URL" });
const flag = z.pipe(
  z.enum(["true", "false"], { error: 'must be "true" or "false"' }),
  z.transform((value: "true" | "false") => value === "true"),
);
const milliseconds = (min: number, max: number, fallback: number) =>
  z._default(z.coerce.number().check(z.int(), z.minimum(min), z.maximum(max)), fallback);

const schema = z
  .object({
    LEGACY_DATABASE_URL: postgresUrl,
    RUNOPS_DATABASE_URL: z.optional(postgresUrl),
    LEGACY_REPLICA_URL: z.optional(postgresUrl),
    RUNOPS_REPLICA_URL: z.optional(postgresUrl),
    RUN_OPS_SPLIT_ENABLED: z._default(flag, false),
    /** Local stack and tests only: the WebSocket→TCP proxy in front of embedded Postgres. */
    DATABASE_WS_PROXY: z.optional(z.url({ protocol: /^wss?$/, error: "must be a ws:// URL" })),
    /** Local stack and tests: the executor process. Unset in production, where the Container binding is used. */
    EXECUTOR_URL: z.optional(z.url({ protocol: /^https?$/ })),
    EXECUTOR_SHARED_SECRET: z.string().check(z.minLength(16, "must be at least 16 characters")),
    /** Signs run-scoped executor tokens, public access tokens and waitpoint callback URLs. */
    SIGNING_SECRET: z.string().check(z.minLength(32, "must be at least 32 characters")),
    GITHUB_APP_ID: z.optional(z.string()),
    GITHUB_PRIVATE_KEY: z.optional(z.string()),
    GITHUB_WEBHOOK_SECRET: z.optional(z.string()),
    GITHUB_API_URL: z._default(z.url(), "https://api.github.com"),
    /** Where people install the App and where OAuth codes are exchanged (GitHub's web host, not its API). */
    GITHUB_WEB_URL: z._default(z.url(), "https://github.com"),
    /** The App's slug (github.com/apps/<slug>): its install URL. */
    GITHUB_APP_SLUG: z.optional(z.string().check(z.regex(/^[a-z0-9-]{1,100}$/, "must be the App's slug"))),
    /** The App's OAuth client: the setup URL checks the installing user can see the installation it binds. */
    GITHUB_CLIENT_ID: z.optional(z.string()),
    GITHUB_CLIENT_SECRET: z.optional(z.string()),
    PUBLIC_URL: z.optional(z.url()),
    /**
     * How long opening a database connection may take before the request answers 503. Neon answers in well
     * under a second; the local stack and the tests raise it, since a busy two-core machine can take longer.
     */
    DATABASE_CONNECT_TIMEOUT_MS: milliseconds(100, 120_000, 5_000),
    /** Local stack only: a deployment's target_url may name a private address (the egress policy, DESIGN §11). */
    ALLOW_PRIVATE_TARGETS: z._default(flag, false),
    /**
     * How long an isolate trusts a secret key it looked up: a revoked key works at most this long after. Never
     * above a minute; tests shorten it to see a revocation take effect.
     */
    AUTH_CACHE_TTL_MS: milliseconds(0, 60_000, 60_000),
    /** An executing run silent for this long is retried or CRASHED. */
    HEARTBEAT_TIMEOUT_MS: milliseconds(1_000, 600_000, 30_000),
    /** The bench's local stack only: mounts POST /bench/floor (worker/bench-floor.ts). Off in production. */
    BENCH_ROUTES: z._default(flag, false),
  })
  .check(
    z.refine((config) => !config.RUN_OPS_SPLIT_ENABLED || config.RUNOPS_DATABASE_URL, {
      path: ["RUNOPS_DATABASE_URL"],
      message: "required when RUN_OPS_SPLIT_ENABLED is true",
    }),
  );

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
