/**
 * POST /bench/floor, mounted only with BENCH_ROUTES=true (the bench's local stack): one bare INSERT of the
 * request's payload through the Worker's own driver path (a new pool per request, as the run store opens it),
 * into the database new runs go to: the floor a trigger done in one round trip would hit. Its scratch table
 * is created by the first call that misses it, so production schema and migrations know nothing of it, and
 * every later call is exactly one statement.
 */
import type { Context } from "hono";
import * as z from "../schema/zod.ts";
import { problemResponse } from "./problem.ts";
import type { AppEnv } from "./routes/context.ts";
import { openPool } from "./store/pool.ts";

const INSERT = "insert into bench_floor (id, payload) values ($1, $2)";
const CREATE = `create table if not exists bench_floor
  (id text primary key, payload jsonb not null, created_at timestamptz not null default now())`;
const UNDEFINED_TABLE = "42P01";

const floorBodySchema = z.strictObject({ payload: z.record(z.string(), z.unknown()) });

export async function insertFloorRow(c: Context<AppEnv>): Promise<Response> {
  const body = floorBodySchema.safeParse(await c.req.json().catch(() => undefined));
  if (!body.success) return problemResponse({ status: 422, title: "Invalid request", errors: body.error.issues });
  const { config } = c.var;
  const url = (config.RUN_OPS_SPLIT_ENABLED && config.RUNOPS_DATABASE_URL) || config.LEGACY_DATABASE_URL;
  const connectionTimeoutMillis = config.DATABASE_CONNECT_TIMEOUT_MS;
  const pool = openPool(url, { wsProxy: config.DATABASE_WS_PROXY, connectionTimeoutMillis });
  const row = [crypto.randomUUID(), body.data.payload];
  try {
    await pool.query(INSERT, row).catch(async (error: { code?: string }) => {
      if (error.code !== UNDEFINED_TABLE) throw error;
      await pool.query(CREATE);
      await pool.query(INSERT, row);
    });
    return c.body(null, 204);
  } finally {
    c.executionCtx.waitUntil(pool.end());
  }
}
