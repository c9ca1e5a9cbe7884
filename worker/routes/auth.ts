/**
 * Secret-key auth for /api/v1: `Authorization: Bearer fc_<env>_<random><checksum>`, looked up by its SHA-256.
 * Cheap refusals first: a missing, malformed or corrupted key is refused without a database connection, and
 * a key seen within the last minute is answered from this isolate's cache. Rate limits (wrangler.toml): per
 * key on every request; per client IP on failed attempts, and an address over it is refused before any lookup.
 */
import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import { hasValidChecksum, hashApiKey } from "../../schema/api-keys.ts";
import { problemResponse } from "../problem.ts";
import type { AuthenticatedEnvironment } from "../store/control-plane-store.ts";
import type { AppEnv } from "./context.ts";

const BEARER = /^Bearer (fc_[A-Za-z0-9]{1,32}_[A-Za-z0-9]{16,128})$/;

/** The period of both limiters in wrangler.toml: how long a throttled client should wait at most. */
const RATE_LIMIT_PERIOD_SECONDS = 60;

/** A bounded per-isolate map whose entries expire; when full, the oldest entry makes room. */
class ExpiringMap<V> {
  private readonly entries = new Map<string, { value: V; expiresAt: number }>();

  get(key: string): V | undefined {
    const entry = this.entries.get(key);
    if (entry && entry.expiresAt > Date.now()) return entry.value;
    this.entries.delete(key);
    return undefined;
  }

  set(key: string, value: V, ttlMs: number): void {
    // Maps iterate in insertion order: the first key is the oldest entry.
    if (this.entries.size >= 1_000) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, { value, expiresAt: Date.now() + ttlMs });
  }
}

const authenticated = new ExpiringMap<AuthenticatedEnvironment>();
/** Addresses over their limit of failed attempts: refused before any lookup until the period ends. */
const throttledAddresses = new ExpiringMap<true>();

export const unauthorized = (detail: string) =>
  problemResponse({ status: 401, title: "Unauthorized", detail }, { "www-authenticate": 'Bearer realm="flightcheck"' });

const tooManyRequests = (detail: string) =>
  problemResponse(
    { status: 429, title: "Too many requests", detail },
    { "retry-after": String(RATE_LIMIT_PERIOD_SECONDS) },
  );

const clientAddress = (c: Context<AppEnv>) => c.req.header("cf-connecting-ip") ?? "unknown";
const addressThrottled = () => tooManyRequests("Too many failed attempts to authenticate from this address");

/** A failed attempt counts against its address: a 401 while under the limit, then 429s before any lookup. */
async function refuse(c: Context<AppEnv>, detail: string): Promise<Response> {
  const address = clientAddress(c);
  if ((await c.env.UNAUTHENTICATED_RATE_LIMITER.limit({ key: address })).success) return unauthorized(detail);
  throttledAddresses.set(address, true, RATE_LIMIT_PERIOD_SECONDS * 1_000);
  return addressThrottled();
}

/** The environment whose secret key the request carries, or the 401 or 429 to answer. */
export async function environmentFromKey(c: Context<AppEnv>): Promise<AuthenticatedEnvironment | Response> {
  const key = BEARER.exec(c.req.header("authorization") ?? "")?.[1];
  if (!key) return refuse(c, "Send a secret key: Authorization: Bearer fc_…");
  if (!(await hasValidChecksum(key))) return refuse(c, "Unknown secret key");
  const keyHash = await hashApiKey(key);
  if (!(await c.env.API_KEY_RATE_LIMITER.limit({ key: keyHash })).success) {
    return tooManyRequests("Too many requests with this secret key");
  }
  const known = authenticated.get(keyHash);
  if (known) return known;
  if (throttledAddresses.get(clientAddress(c))) return addressThrottled();
  c.var.warmStores();
  const environment = await c.var.stores.controlPlane.findEnvironmentByKeyHash(keyHash);
  if (!environment) return refuse(c, "Unknown secret key");
  // A revoked or rotated key stops working once its entry expires (AUTH_CACHE_TTL_MS, at most a minute).
  authenticated.set(keyHash, environment, c.var.config.AUTH_CACHE_TTL_MS);
  return environment;
}

export const requireApiKey = createMiddleware<AppEnv>(async (c, next) => {
  const environment = await environmentFromKey(c);
  if (environment instanceof Response) return environment;
  c.set("environment", environment);
  await next();
});
