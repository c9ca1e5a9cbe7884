/**
 * Signed, expiring tokens (HMAC-SHA256 over the claims): the run-scoped executor token carried by a
 * dispatch message, the public access token a browser uses to watch one run or batch, the page token a
 * run page's link carries, and the `state` of a GitHub App install link. Stateless: the Worker verifies them
 * without a database.
 */
export type TokenScope = "executor" | "public" | "page" | "github-setup";

export interface TokenClaims {
  scope: TokenScope;
  /** The friendly id of the run or batch the token is for (the organisation's id for a GitHub setup state). */
  sub: string;
  /** Environment the subject belongs to. */
  env: string;
  /** Expiry, seconds since the epoch. */
  exp: number;
  /** An executor token's attempt: its calls are refused once a later attempt is claimed. */
  attempt?: number;
}

const encoder = new TextEncoder();

const base64url = (bytes: Uint8Array) =>
  btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");

function fromBase64url(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

/** CryptoKey, spelled so that Node's types (the end-to-end tests sign tokens) know it too. */
type HmacKey = Awaited<ReturnType<typeof crypto.subtle.importKey>>;

const keys = new Map<string, Promise<HmacKey>>();
function hmacKey(secret: string): Promise<HmacKey> {
  let key = keys.get(secret);
  if (!key) {
    key = crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [
      "sign",
      "verify",
    ]);
    keys.set(secret, key);
  }
  return key;
}

export async function signToken(secret: string, claims: Omit<TokenClaims, "exp">, ttlSeconds: number): Promise<string> {
  const body = base64url(
    encoder.encode(JSON.stringify({ ...claims, exp: Math.floor(Date.now() / 1000) + ttlSeconds })),
  );
  const signature = new Uint8Array(await crypto.subtle.sign("HMAC", await hmacKey(secret), encoder.encode(body)));
  return `${body}.${base64url(signature)}`;
}

/** The token's claims if it is genuine, unexpired and of one of `scopes`. */
export async function verifyToken(
  secret: string,
  token: string,
  ...scopes: TokenScope[]
): Promise<TokenClaims | undefined> {
  const [body, signature, extra] = token.split(".");
  if (!body || !signature || extra !== undefined || token.length > 2_000) return undefined;
  try {
    // crypto.subtle.verify compares in constant time.
    const valid = await crypto.subtle.verify(
      "HMAC",
      await hmacKey(secret),
      fromBase64url(signature),
      encoder.encode(body),
    );
    if (!valid) return undefined;
    const claims = JSON.parse(new TextDecoder().decode(fromBase64url(body))) as TokenClaims;
    return scopes.includes(claims.scope) && claims.exp > Date.now() / 1000 ? claims : undefined;
  } catch {
    return undefined;
  }
}

/** Long enough for the longest case with retries and waits; the token only ever opens this one attempt of one run. */
const EXECUTOR_TOKEN_TTL_SECONDS = 24 * 3_600;

export const mintExecutorToken = (secret: string, environmentId: string, friendlyId: string, attempt: number) =>
  signToken(secret, { scope: "executor", sub: friendlyId, env: environmentId, attempt }, EXECUTOR_TOKEN_TTL_SECONDS);

/** Lets a browser watch one run or batch (DESIGN §5) without a secret key. */
const PUBLIC_TOKEN_TTL_SECONDS = 3_600;

export const mintPublicAccessToken = (secret: string, environmentId: string, friendlyId: string) =>
  signToken(secret, { scope: "public", sub: friendlyId, env: environmentId }, PUBLIC_TOKEN_TTL_SECONDS);

/**
 * Opens a run's or suite run's page (and its screenshots) for whoever holds the link: a check run's details
 * link must keep working for as long as someone may look at the pull request.
 */
export const PAGE_TOKEN_TTL_SECONDS = 30 * 24 * 3_600;

export const mintPageToken = (
  secret: string,
  environmentId: string,
  friendlyId: string,
  ttlSeconds = PAGE_TOKEN_TTL_SECONDS,
) => signToken(secret, { scope: "page", sub: friendlyId, env: environmentId }, ttlSeconds);

/** The secret part of a waitpoint's callback URL: whoever holds the URL may complete that one waitpoint. */
export async function callbackHash(secret: string, waitpointFriendlyId: string): Promise<string> {
  const signature = await crypto.subtle.sign(
    "HMAC",
    await hmacKey(secret),
    encoder.encode(`callback:${waitpointFriendlyId}`),
  );
  return base64url(new Uint8Array(signature));
}

/** Constant-time check of a callback URL's hash. */
export async function verifyCallbackHash(secret: string, waitpointFriendlyId: string, hash: string): Promise<boolean> {
  try {
    return await crypto.subtle.verify(
      "HMAC",
      await hmacKey(secret),
      fromBase64url(hash),
      encoder.encode(`callback:${waitpointFriendlyId}`),
    );
  } catch {
    return false;
  }
}
