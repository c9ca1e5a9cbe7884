/** Helpers for tests that use the Worker as a client would: over HTTP, with a tenant of their own. */
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import type { Pool } from "@neondatabase/serverless";
import { sign } from "@octokit/webhooks-methods";
import { and, count, eq, inArray, sql } from "drizzle-orm";
import { expect, inject, vi } from "vitest";
import { hex } from "../../schema/digest.ts";
import * as runOps from "../../schema/run-ops.ts";
import { freshInstallation, type SeededInstallation, seedTenant, type Tenant } from "../../scripts/seed.ts";
import { loadConfig } from "../../worker/config.ts";
import worker from "../../worker/index.ts";
import { signToken } from "../../worker/runs/tokens.ts";
import { ACTIVE_STATUSES } from "../../schema/run-states.ts";
import { connect, type Database } from "../../worker/store/database.ts";
import { residencyOf, toFriendlyId } from "../../worker/store/ids.ts";
import { openStores } from "../../worker/store/open.ts";
import type { RoutingRunStore } from "../../worker/store/routing-store.ts";

export const siteUrl = inject("siteUrl");
export const CLOSED_PORT_URL = "postgres://postgres:postgres@127.0.0.1:9/down";
const wsProxy = inject("wsProxyUrl");

/** Opens a RunStore with some settings changed, runs `use`, and closes it (one store per request, as in the Worker). */
export async function withStore<T>(
  settings: Record<string, string>,
  use: (store: RoutingRunStore) => Promise<T>,
): Promise<T> {
  const stores = openStores(loadConfig({ ...env, ...settings }));
  try {
    return await use(stores.runs);
  } finally {
    await stores.close();
  }
}

/**
 * A PENDING run of a new tenant, recorded but not dispatched (as if the Worker died between the two
 * phases), with the executor token its dispatch would carry.
 */
export async function recordPendingRun(
  task: string,
  payload: unknown,
  { maxAttempts = 1, secret = env.SIGNING_SECRET } = {},
) {
  const tenant = await createTenant();
  const { record } = await withStore({}, (runs) =>
    runs.createRun({ ...tenant, task, payload, status: "PENDING", maxAttempts }),
  );
  const friendlyId = toFriendlyId("run", record.id);
  const token = await executorToken(friendlyId, tenant.environmentId, 1, secret);
  return { tenant, run: record, friendlyId, token };
}

/** The executor token a dispatch of the run's `attempt` carries. */
export const executorToken = (
  friendlyId: string,
  environmentId: string,
  attempt: number,
  secret = env.SIGNING_SECRET,
) => signToken(secret, { scope: "executor", sub: friendlyId, env: environmentId, attempt }, 600);

/** The executor's calls for one run (`/internal/runs/:id/…`), with its token: status and JSON body. */
export function executorCalls(friendlyId: string, token: string) {
  return async (path: string, body: unknown = {}) => {
    const response = await exports.default.fetch(`http://flightcheck/internal/runs/${friendlyId}/${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: response.status === 204 ? undefined : ((await response.json()) as any) };
  };
}

/** Changes a run's row behind the engine's back (a clock that moved, a heartbeat that stopped), with a bare client. */
export async function updateRunRow(runId: string, patch: Partial<typeof runOps.runs.$inferInsert>): Promise<void> {
  const url = residencyOf(runId) === "new" ? inject("runopsDatabaseUrl") : inject("legacyDatabaseUrl");
  const { db, close } = connect(url, { wsProxy });
  try {
    await db.update(runOps.runs).set(patch).where(eq(runOps.runs.id, runId));
  } finally {
    await close();
  }
}

/** Changes a waitpoint's row behind the engine's back (its time came), in whichever database holds it. */
export async function updateWaitpointRow(
  waitpointId: string,
  patch: Partial<typeof runOps.waitpoints.$inferInsert>,
): Promise<void> {
  for (const url of [inject("legacyDatabaseUrl"), inject("runopsDatabaseUrl")]) {
    const { db, close } = connect(url, { wsProxy });
    try {
      await db.update(runOps.waitpoints).set(patch).where(eq(runOps.waitpoints.id, waitpointId));
    } finally {
      await close();
    }
  }
}

/**
 * A fresh organisation with its own key, concurrency limit and GitHub installation (on an account of its
 * own, every repository unless `installation` says otherwise), so tests never share a queue or a repository.
 */
export async function createTenant(
  concurrencyLimit = 10,
  installation: SeededInstallation | null = freshInstallation(),
): Promise<Tenant> {
  return withLegacyDatabase((_, pool) =>
    seedTenant(pool, { slug: `t-${crypto.randomUUID()}`, concurrencyLimit, installation: installation ?? undefined }),
  );
}

/** Runs `use` on a bare client of the control-plane database (to see or change rows behind the Worker's back). */
export async function withLegacyDatabase<T>(use: (db: Database, pool: Pool) => Promise<T>): Promise<T> {
  const { db, pool, close } = connect(inject("legacyDatabaseUrl"), { wsProxy });
  try {
    return await use(db, pool);
  } finally {
    await close();
  }
}

/** A GitHub delivery to the Worker, signed with the tests' webhook secret. */
export async function deliver(event: string, payload: unknown): Promise<{ status: number; body: any }> {
  const body = JSON.stringify(payload);
  const response = await exports.default.fetch("http://flightcheck/webhooks/github", {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-github-event": event,
      "x-github-delivery": crypto.randomUUID(),
      "x-hub-signature-256": await sign(loadConfig(env).GITHUB_WEBHOOK_SECRET!, body),
    },
    body,
  });
  return { status: response.status, body: await response.json() };
}

export const randomSha = () => hex(crypto.getRandomValues(new Uint8Array(20)));

export interface Client {
  request(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Response>;
  json<T = any>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>;
}

/** Calls the real Worker; `settings` changes its environment (e.g. a database that is down). */
export function client(apiKey: string, settings?: Record<string, string>): Client {
  const request = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const init: RequestInit = {
      method,
      headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json", ...headers },
      body: body === undefined || method === "GET" ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    };
    if (!settings) return exports.default.fetch(`http://flightcheck${path}`, init);
    const ctx = createExecutionContext();
    const response = await worker.fetch(new Request(`http://flightcheck${path}`, init), { ...env, ...settings }, ctx);
    await waitOnExecutionContext(ctx);
    return response;
  };
  return {
    request,
    json: async (method, path, body) => {
      const response = await request(method, path, body);
      return { status: response.status, body: await response.json() };
    },
  };
}

export const httpCheck = (url: string, extra: Record<string, unknown> = {}) => ({ payload: { url, ...extra } });

/** Polls a run until `done` holds for it (the queue, consumer and site are real, so this takes a moment). */
export async function waitForRun(
  api: Client,
  runId: string,
  done: (run: any) => boolean = isFinished,
  timeout = 90_000,
) {
  return vi.waitFor(
    async () => {
      const { body } = await api.json("GET", `/api/v1/runs/${runId}`);
      expect(done(body), `run ${runId} is ${body.status}`).toBe(true);
      return body;
    },
    { timeout, interval: 50 },
  );
}

const FINISHED = ["COMPLETED", "FAILED", "CANCELED", "CRASHED", "SYSTEM_FAILURE", "EXPIRED", "TIMED_OUT"];
export const isFinished = (run: { status: string }) => FINISHED.includes(run.status);

/** Rows of an environment in each database, read with bare clients (not through the code under test). */
export async function rowsInDatabases(environmentId: string): Promise<{ runs: number; batches: number }> {
  let runs = 0;
  let batches = 0;
  for (const url of [inject("legacyDatabaseUrl"), inject("runopsDatabaseUrl")]) {
    const { db, close } = connect(url, { wsProxy });
    try {
      runs += (
        await db.select({ n: count() }).from(runOps.runs).where(eq(runOps.runs.environmentId, environmentId))
      )[0]!.n;
      batches += (
        await db.select({ n: count() }).from(runOps.batches).where(eq(runOps.batches.environmentId, environmentId))
      )[0]!.n;
    } finally {
      await close();
    }
  }
  return { runs, batches };
}

/**
 * Counts an organisation's active runs in both databases while holding its counter row's lock: admissions and
 * promotions wait, finishes only lower the count, and a run is active only while its ledger row is, so the sum
 * bounds the number of active runs at the moment the lock was taken. Two connections are held for the whole
 * sampling: a new pair every few milliseconds would itself starve a busy machine.
 */
export function activeRunsSampler(organizationId: string) {
  const legacy = connect(inject("legacyDatabaseUrl"), { wsProxy, connectionTimeoutMillis: 60_000 });
  const runops = connect(inject("runopsDatabaseUrl"), { wsProxy, connectionTimeoutMillis: 60_000 });
  const active = (db: Pick<typeof legacy.db, "select">) =>
    db
      .select({ n: count() })
      .from(runOps.runs)
      .where(and(eq(runOps.runs.organizationId, organizationId), inArray(runOps.runs.status, [...ACTIVE_STATUSES])))
      .then((rows) => rows[0]!.n);
  return {
    sample: () =>
      legacy.db.transaction(async (tx) => {
        await tx.execute(sql`select 1 from organizations where id = ${organizationId} for no key update`);
        return (await active(runops.db)) + (await active(tx));
      }),
    close: () => Promise.all([legacy.close(), runops.close()]),
  };
}
