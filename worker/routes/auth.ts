/**
 * Secret-key auth for /api/v1: `Authorization: Bearer fc_<env>_<random><checksum>`, looked up by its SHA-256.
 * Cheap refusals first: a missing, malformed or corrupted key is refused without a database connection, and
 * a key seen within the last minute is answered from this isolate's cache. Floods meet the rate limiters
 * (wrangler.toml) before any lookup: per key, and per client IP for requests the cache does not vouch for.
 */
import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import { hasValidChecksum, hashApiKey } from "../../schema/api-keys.ts";
import { problemResponse } from "../problem.ts";
import type { AuthenticatedEnvironment } from "../store/control-plane-store.ts";
import type { AppEnv } from "./context.ts";

const BEARER = /^Bearer (fc_[A-Za-z0-9]{1,32}_[A-Za-z0-9]{16,128})$/;

/** A revoked or rotated key stops working once its entry expires. */
const AUTH_CACHE_TTL_MS = 60_000;
const AUTH_CACHE_MAX_ENTRIES = 1_000;
/** The period of both limiters in wrangler.toml: how long a throttled client should wait at most. */
const RATE_LIMIT_PERIOD_SECONDS = 60;

const authCache = new Map<string, { environment: AuthenticatedEnvironment; expiresAt: number }>();

function cached(keyHash: string): AuthenticatedEnvironment | undefined {
  const entry = authCache.get(keyHash);
  if (entry && entry.expiresAt > Date.now()) return entry.environment;
  authCache.delete(keyHash);
  return undefined;
}

function remember(keyHash: string, environment: AuthenticatedEnvironment): void {
  // Maps iterate in insertion order: the first key is the oldest entry.
  if (authCache.size >= AUTH_CACHE_MAX_ENTRIES) authCache.delete(authCache.keys().next().value!);
  authCache.set(keyHash, { environment, expiresAt: Date.now() + AUTH_CACHE_TTL_MS });
}

export const unauthorized = (detail: string) =>
  problemResponse({ status: 401, title: "Unauthorized", detail }, { "www-authenticate": 'Bearer realm="flightcheck"' });

const tooManyRequests = (detail: string) =>
  problemResponse({ status: 429, title: "Too many requests", detail }, { "retry-after": String(RATE_LIMIT_PERIOD_SECONDS) });

/** Counts a request the cache does not vouch for against its client IP; the 429 to answer once over the limit. */
async function limitUnauthenticated(c: Context<AppEnv>): Promise<Response | undefined> {
  const ip = c.req.header("cf-connecting-ip") ?? "unknown";
  const { success } = await c.env.UNAUTHENTICATED_RATE_LIMITER.limit({ key: ip });
  return success ? undefined : tooManyRequests("Too many requests without a known secret key from this address");
}

/** The environment whose secret key the request carries, or the 401 or 429 to answer. */
export async function environmentFromKey(c: Context<AppEnv>): Promise<AuthenticatedEnvironment | Response> {
  const key = BEARER.exec(c.req.header("authorization") ?? "")?.[1];
  if (!key || !(await hasValidChecksum(key))) {
    return (
      (await limitUnauthenticated(c)) ??
      unauthorized(key ? "Unknown secret key" : "Send a secret key: Authorization: Bearer fc_…")
    );
  }
  const keyHash = await hashApiKey(key);
  if (!(await c.env.API_KEY_RATE_LIMITER.limit({ key: keyHash })).success) {
    return tooManyRequests("Too many requests with this secret key");
  }
  const known = cached(keyHash);
  if (known) return known;
  const throttled = await limitUnauthenticated(c);
  if (throttled) return throttled;
  c.var.warmStores();
  const environment = await c.var.engine.deps.controlPlane.findEnvironmentByKeyHash(keyHash);
  if (!environment) return unauthorized("Unknown secret key");
  remember(keyHash, environment);
  return environment;
}

export const requireApiKey = createMiddleware<AppEnv>(async (c, next) => {
  const environment = await environmentFromKey(c);
  if (environment instanceof Response) return environment;
  c.set("environment", environment);
  await next();
});
