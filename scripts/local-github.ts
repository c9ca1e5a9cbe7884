/**
 * A real local HTTP server standing in for GitHub's REST API, as much of it as flightcheck's App uses:
 *
 *   POST  /app/installations/:id/access_tokens          App JWT (RS256, verified) → installation token, 1 h
 *   POST  /repos/:owner/:repo/check-runs                installation token → { id, …check run }
 *   PATCH /repos/:owner/:repo/check-runs/:id            installation token → merged check run
 *   GET   /repos/:owner/:repo/commits/:sha/check-runs   installation token → { total_count, check_runs }
 *                                                       (check_name; filter latest, the default, or all)
 *   POST  /login/oauth/access_token                     client id + secret + a one-time code → user token
 *                                                       (a bad code is 200 with `error`, as GitHub answers)
 *   GET   /user/installations                           user token → { total_count, installations } (paged)
 *   GET   /repos/:owner/:repo/tarball/:ref                installation token → 302 to the tarball given to
 *                                                       `serveTarball` (a gzip tar with one top folder), as GitHub
 *                                                       redirects to codeload
 *
 * A person who can see some installations is made with `authorizeUser(installations)`, which answers the
 * OAuth code GitHub would hand the App's setup URL; tests in the Workers runtime, which cannot call into
 * this process, ask for one with `POST /_stand-in/oauth-codes` `{ installations }` → `{ code }`.
 *
 * Errors carry GitHub's JSON shape ({ message, documentation_url }). `failNext(n)` makes the next n requests
 * answer 500, as GitHub does now and then; `loseNextAnswers(n)` carries out the next n requests but answers
 * 502, as when GitHub did the work and the answer never arrived; `revokeTokens()` makes issued installation
 * tokens 401.
 */
import { generateKeyPairSync, randomBytes, verify } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface RecordedCall {
  method: string;
  path: string;
  /** The status the fake answered. */
  status: number;
  body: unknown;
}

export interface FakeGitHub {
  url: string;
  /** Every request, in arrival order. */
  calls: RecordedCall[];
  /** Each check run's latest state by id, as GitHub would return it. */
  checkRuns: Map<number, Record<string, unknown>>;
  failNext(count: number, status?: number): void;
  /** The next `count` requests (those whose "METHOD /path" matches `route`, if given) are carried out, answered 502. */
  loseNextAnswers(count: number, route?: RegExp): void;
  /** Every installation token issued so far stops working, as when GitHub revokes them. */
  revokeTokens(): void;
  /** A person who can see these installations: the one-time OAuth code GitHub would send to the setup URL. */
  authorizeUser(installations: UserInstallation[]): string;
  /** What `GET /repos/{repository}/tarball/{sha}` downloads. */
  serveTarball(repository: string, sha: string, gzippedTar: Buffer): void;
  close(): Promise<void>;
}

/** An installation as `GET /user/installations` lists it. */
export interface UserInstallation {
  id: number;
  account: string;
  repositorySelection?: "all" | "selected";
}

export const FAKE_CLIENT_ID = "Iv1.fakeclient0001";
export const FAKE_CLIENT_SECRET = "fake-client-secret-0123456789";

/** An App key pair: the private key in PKCS#1 PEM, the format GitHub hands out. */
export function generateAppKeyPair(): { privateKey: string; publicKey: string } {
  return generateKeyPairSync("rsa", {
    modulusLength: 2048,
    publicKeyEncoding: { type: "spki", format: "pem" },
    privateKeyEncoding: { type: "pkcs1", format: "pem" },
  });
}

const DOCS = "https://docs.github.com/rest";
const MAX_SUMMARY_CHARS = 65_535;
/** GitHub refuses an App JWT that lives longer than 10 minutes; a minute of clock drift is forgiven. */
const MAX_JWT_LIFETIME_S = 600;
const CLOCK_DRIFT_S = 60;

class Refusal extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

export async function startFakeGitHub({
  appId,
  publicKey,
}: {
  appId: number | string;
  publicKey: string;
}): Promise<FakeGitHub> {
  const calls: RecordedCall[] = [];
  const checkRuns = new Map<number, Record<string, unknown>>();
  const checkRunRepos = new Map<number, string>();
  const tokens = new Map<string, { installationId: number; expiresAt: number }>();
  const tarballs = new Map<string, Buffer>();
  let nextCheckRunId = 1;
  let failures = { count: 0, status: 500 };
  let lostAnswers: { count: number; route?: RegExp } = { count: 0 };
  const oauthCodes = new Map<string, UserInstallation[]>();
  const userTokens = new Map<string, UserInstallation[]>();

  function authorizeUser(installations: UserInstallation[]): string {
    const code = randomBytes(10).toString("hex");
    oauthCodes.set(code, installations);
    return code;
  }

  function userRoute(
    method: string,
    path: string,
    request: IncomingMessage,
    body: Record<string, unknown>,
  ): [number, unknown] | undefined {
    if (method === "POST" && path === "/_stand-in/oauth-codes")
      return [201, { code: authorizeUser(body.installations as UserInstallation[]) }];
    if (method === "POST" && path === "/login/oauth/access_token") {
      if (body.client_id !== FAKE_CLIENT_ID || body.client_secret !== FAKE_CLIENT_SECRET)
        return [200, { error: "incorrect_client_credentials" }];
      const installations = oauthCodes.get(String(body.code));
      if (!installations) return [200, { error: "bad_verification_code" }];
      oauthCodes.delete(String(body.code)); // one use, as on GitHub
      const token = `ghu_${randomBytes(18).toString("hex")}`;
      userTokens.set(token, installations);
      return [200, { access_token: token, token_type: "bearer", scope: "" }];
    }
    if (method === "GET" && path === "/user/installations") {
      const [scheme, token] = (request.headers.authorization ?? "").split(" ");
      const installations = token && /^(token|bearer)$/i.test(scheme ?? "") ? userTokens.get(token) : undefined;
      if (!installations) throw new Refusal(401, "Bad credentials");
      const query = new URL(request.url ?? "/", "http://github.local").searchParams;
      const perPage = Math.min(Number(query.get("per_page") ?? 30), 100);
      const page = Math.max(Number(query.get("page") ?? 1), 1);
      const listed = installations.slice((page - 1) * perPage, page * perPage).map((installation) => ({
        id: installation.id,
        account: { login: installation.account, type: "Organization" },
        repository_selection: installation.repositorySelection ?? "all",
      }));
      return [200, { total_count: installations.length, installations: listed }];
    }
    return undefined;
  }

  function verifyAppJwt(authorization: string | undefined): void {
    const [scheme, jwt] = (authorization ?? "").split(" ");
    const parts = jwt?.split(".") ?? [];
    if (scheme?.toLowerCase() !== "bearer" || parts.length !== 3)
      throw new Refusal(401, "A JSON web token could not be decoded");
    const [header, payload, signature] = parts as [string, string, string];
    const decode = (part: string) =>
      JSON.parse(Buffer.from(part, "base64url").toString("utf8")) as Record<string, unknown>;
    let claims: Record<string, unknown>;
    try {
      if (decode(header).alg !== "RS256") throw new Error("not RS256");
      claims = decode(payload);
      if (!verify("RSA-SHA256", Buffer.from(`${header}.${payload}`), publicKey, Buffer.from(signature, "base64url"))) {
        throw new Error("bad signature");
      }
    } catch {
      throw new Refusal(401, "A JSON web token could not be decoded");
    }
    const now = Math.floor(Date.now() / 1000);
    const { iss, iat, exp } = claims;
    if (String(iss) !== String(appId)) throw new Refusal(401, "'Issuer' claim ('iss') must be the App's id");
    if (!Number.isInteger(iat) || (iat as number) > now + CLOCK_DRIFT_S) {
      throw new Refusal(
        401,
        "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued",
      );
    }
    if (!Number.isInteger(exp) || (exp as number) <= now) {
      throw new Refusal(
        401,
        "'Expiration time' claim ('exp') must be a numeric value " +
          "representing the future time at which the assertion expires",
      );
    }
    if (
      (exp as number) - (iat as number) > MAX_JWT_LIFETIME_S ||
      (exp as number) > now + MAX_JWT_LIFETIME_S + CLOCK_DRIFT_S
    ) {
      throw new Refusal(401, "'Expiration time' claim ('exp') is too far in the future");
    }
  }

  function requireInstallationToken(authorization: string | undefined): void {
    const [scheme, token] = (authorization ?? "").split(" ");
    const found = token && /^(token|bearer)$/i.test(scheme ?? "") ? tokens.get(token) : undefined;
    if (!found || found.expiresAt <= Date.now()) throw new Refusal(401, "Bad credentials");
  }

  function validateCheckRun(body: Record<string, unknown>, creating: boolean): void {
    const missing = creating ? ["name", "head_sha"].filter((field) => typeof body[field] !== "string") : [];
    if (missing.length)
      throw new Refusal(422, `Invalid request.\n\n${missing.map((field) => `"${field}" wasn't supplied.`).join("\n")}`);
    const summary = (body.output as { summary?: unknown } | undefined)?.summary;
    const length = typeof summary === "string" ? [...summary].length : 0;
    if (length > MAX_SUMMARY_CHARS) {
      throw new Refusal(
        422,
        `Invalid request.\n\nOnly ${MAX_SUMMARY_CHARS} characters are allowed; ${length} were supplied.`,
      );
    }
  }

  function route(
    method: string,
    path: string,
    request: IncomingMessage,
    body: Record<string, unknown>,
  ): [number, unknown] {
    const userAnswer = userRoute(method, path, request, body);
    if (userAnswer) return userAnswer;
    const exchange = /^\/app\/installations\/(\d+)\/access_tokens$/.exec(path);
    if (method === "POST" && exchange) {
      verifyAppJwt(request.headers.authorization);
      const token = `ghs_${randomBytes(18).toString("hex")}`;
      const expiresAt = Date.now() + 60 * 60 * 1000;
      tokens.set(token, { installationId: Number(exchange[1]), expiresAt });
      const expires_at = new Date(expiresAt).toISOString().replace(/\.\d+Z$/, "Z");
      return [201, { token, expires_at, permissions: { checks: "write" }, repository_selection: "all" }];
    }
    const create = /^\/repos\/([^/]+\/[^/]+)\/check-runs$/.exec(path);
    if (method === "POST" && create) {
      requireInstallationToken(request.headers.authorization);
      validateCheckRun(body, true);
      const id = nextCheckRunId++;
      const checkRun = { status: "queued", ...body, id, ...(body.conclusion ? { status: "completed" } : {}) };
      checkRuns.set(id, checkRun);
      checkRunRepos.set(id, create[1]!);
      return [201, checkRun];
    }
    const update = /^\/repos\/([^/]+\/[^/]+)\/check-runs\/(\d+)$/.exec(path);
    if (method === "PATCH" && update) {
      requireInstallationToken(request.headers.authorization);
      const id = Number(update[2]);
      const existing = checkRuns.get(id);
      if (!existing || checkRunRepos.get(id) !== update[1]) throw new Refusal(404, "Not Found");
      validateCheckRun(body, false);
      // Like GitHub: a conclusion completes the check run whatever status says.
      const checkRun = { ...existing, ...body, id, ...(body.conclusion ? { status: "completed" } : {}) };
      checkRuns.set(id, checkRun);
      return [200, checkRun];
    }
    const list = /^\/repos\/([^/]+\/[^/]+)\/commits\/([^/]+)\/check-runs$/.exec(path);
    if (method === "GET" && list) {
      requireInstallationToken(request.headers.authorization);
      const query = new URL(request.url ?? "/", "http://github.local").searchParams;
      const name = query.get("check_name");
      let found = [...checkRuns.values()].filter(
        (run) =>
          checkRunRepos.get(run.id as number) === list[1] && run.head_sha === list[2] && (!name || run.name === name),
      );
      // Like GitHub: unless asked for all, only the newest check run of each name.
      if (query.get("filter") !== "all")
        found = found.filter(
          (run) => !found.some((other) => other.name === run.name && (other.id as number) > (run.id as number)),
        );
      return [200, { total_count: found.length, check_runs: found }];
    }
    throw new Refusal(404, "Not Found");
  }

  function respond(
    method: string,
    path: string,
    request: IncomingMessage,
    body: Record<string, unknown> | undefined,
  ): [number, unknown] {
    try {
      if (failures.count > 0) {
        failures.count -= 1;
        throw new Refusal(failures.status, "Server Error");
      }
      if (!body) throw new Refusal(400, "Problems parsing JSON");
      const answer = route(method, path, request, body);
      if (lostAnswers.count > 0 && (!lostAnswers.route || lostAnswers.route.test(`${method} ${path}`))) {
        lostAnswers.count -= 1;
        throw new Refusal(502, "Bad Gateway");
      }
      return answer;
    } catch (error) {
      if (!(error instanceof Refusal)) throw error;
      return [error.status, { message: error.message, documentation_url: DOCS }];
    }
  }

  /** The tarball routes answer bytes or a redirect, not JSON; undefined for any other route. */
  function tarballAnswer(
    method: string,
    path: string,
    request: IncomingMessage,
    response: ServerResponse,
  ): number | undefined {
    const api = /^\/repos\/([^/]+\/[^/]+)\/tarball\/([^/]+)$/.exec(path);
    const codeload = /^\/_codeload\/([^/]+\/[^/]+)\/legacy\.tar\.gz\/([^/]+)$/.exec(path);
    if (method !== "GET" || !(api || codeload)) return undefined;
    if (api) {
      try {
        requireInstallationToken(request.headers.authorization);
      } catch (error) {
        response
          .writeHead((error as Refusal).status, { "content-type": "application/json" })
          .end(JSON.stringify({ message: (error as Error).message }));
        return (error as Refusal).status;
      }
      response.writeHead(302, { location: `/_codeload/${api[1]}/legacy.tar.gz/${api[2]}` }).end();
      return 302;
    }
    const body = tarballs.get(`${codeload![1]}@${codeload![2]}`);
    if (!body) {
      response.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ message: "Not Found" }));
      return 404;
    }
    response.writeHead(200, { "content-type": "application/x-gzip", "content-length": body.length }).end(body);
    return 200;
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const method = request.method ?? "GET";
    const path = new URL(request.url ?? "/", "http://github.local").pathname;
    const served = tarballAnswer(method, path, request, response);
    if (served !== undefined) {
      calls.push({ method, path, status: served, body: undefined });
      return;
    }
    const raw = await readBody(request);
    const body = parseJsonObject(raw);
    const call: RecordedCall = { method, path, status: 0, body: body ?? raw };
    calls.push(call);
    const [status, answer] = respond(method, path, request, body);
    call.status = status;
    response.writeHead(status, { "content-type": "application/json; charset=utf-8", date: new Date().toUTCString() });
    response.end(JSON.stringify(answer));
  }

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      response.writeHead(500).end(String(error));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    checkRuns,
    failNext: (count, status = 500) => {
      failures = { count, status };
    },
    loseNextAnswers: (count, route) => {
      lostAnswers = { count, route };
    },
    revokeTokens: () => tokens.clear(),
    serveTarball: (repository, sha, gzippedTar) => tarballs.set(`${repository}@${sha}`, gzippedTar),
    authorizeUser,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** An empty body reads as {}; anything but a JSON object as undefined. */
function parseJsonObject(raw: string): Record<string, unknown> | undefined {
  if (!raw) return {};
  try {
    const value: unknown = JSON.parse(raw);
    return value && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
