/**
 * Drizzle over a pool, for Node (migrations, seeding, tests' own checks). The Worker does not import this
 * module: its stores write SQL through the pool (pool.ts, sql.ts), so the bundle carries no query builder.
 */
import type { Pool } from "@neondatabase/serverless";
import { drizzle } from "drizzle-orm/neon-serverless";
import { type ConnectOptions, openPool } from "./pool.ts";

export { type ConnectOptions, openPool } from "./pool.ts";

/** No relational schema: nothing uses `db.query`. */
export const database = (client: Pool) => drizzle({ client, casing: "snake_case" });

export type Database = ReturnType<typeof database>;

export function connect(url: string, options: ConnectOptions = {}) {
  const pool = openPool(url, options);
  return { db: database(pool), pool, close: () => pool.end() };
}
