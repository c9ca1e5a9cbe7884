/**
 * What the stores need to write SQL by hand through the neon Pool, so the Worker carries no query builder:
 * rows shaped as schema/'s drizzle tables type them (camelCase fields, Dates, numbers), column lists and
 * assignments built from such objects, and a transaction on one client of the pool.
 */
import type { Pool, PoolClient } from "@neondatabase/serverless";

/** A pool, or the client a transaction holds. */
export type Queryable = Pick<Pool, "query">;

/** A table as the stores write it; tables.ts describes each, a test holds them to schema/. */
export interface Table {
  name: string;
  /** Writable fields: anything else an object carries is not a column and is left out, as drizzle did. */
  fields: ReadonlySet<string>;
  /** jsonb fields: sent as JSON text, since the driver would send a JS array as a Postgres array. */
  json: ReadonlySet<string>;
  /** int8 fields: the driver reads them as strings; ours (GitHub ids) fit in a double. */
  int8: readonly string[];
}

export const columnOf = (field: string) => field.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
const fieldOf = (column: string) => column.replace(/_([a-z0-9])/g, (_, letter: string) => letter.toUpperCase());

/** Collects a statement's parameters: each value added answers with its placeholder. */
export class Params {
  readonly values: unknown[];

  constructor(...values: unknown[]) {
    this.values = values;
  }

  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

function encode(table: Table, field: string, value: unknown): unknown {
  return value !== null && table.json.has(field) ? JSON.stringify(value) : value;
}

const writable = (table: Table, object: object) =>
  Object.entries(object).filter(([field, value]) => value !== undefined && table.fields.has(field));

/** The columns one row sets and their placeholders, in the same order (for `insert … select`). */
export function columnsOf(table: Table, row: object, params: Params): { columns: string[]; placeholders: string[] } {
  const fields = writable(table, row);
  return {
    columns: fields.map(([field]) => columnOf(field)),
    placeholders: fields.map(([field, value]) => params.add(encode(table, field, value))),
  };
}

/** `(columns) values (…), (…)`; a field a row leaves undefined takes the column's default. */
export function valuesOf(table: Table, rows: object[], params: Params): string {
  const fields = [...new Set(rows.flatMap((row) => writable(table, row).map(([field]) => field)))];
  const tuples = rows.map((row) => {
    const values = fields.map((field) => {
      const value = (row as Record<string, unknown>)[field];
      return value === undefined ? "default" : params.add(encode(table, field, value));
    });
    return `(${values.join(", ")})`;
  });
  return `(${fields.map(columnOf).join(", ")}) values ${tuples.join(", ")}`;
}

/** `column = $n, …` for the fields a patch sets (undefined leaves a column as it is, null clears it). */
export function assignmentsOf(table: Table, patch: object, params: Params): string {
  return writable(table, patch)
    .map(([field, value]) => `${columnOf(field)} = ${params.add(encode(table, field, value))}`)
    .join(", ");
}

export function recordOf<T>(table: Table, row: Record<string, unknown>): T {
  const record: Record<string, unknown> = {};
  for (const column in row) record[fieldOf(column)] = row[column];
  for (const field of table.int8) if (typeof record[field] === "string") record[field] = Number(record[field]);
  return record as T;
}

/** Runs a statement and shapes its rows as `table`'s records. */
export async function query<T>(db: Queryable, table: Table, text: string, params: unknown[] | Params): Promise<T[]> {
  const { rows } = await db.query(text, params instanceof Params ? params.values : params);
  return rows.map((row: Record<string, unknown>) => recordOf<T>(table, row));
}

/** Inserts rows and returns them as stored. */
export function insertRows<T>(db: Queryable, table: Table, rows: object[]): Promise<T[]> {
  const params = new Params();
  return query<T>(db, table, `insert into ${table.name} ${valuesOf(table, rows, params)} returning *`, params);
}

/** BEGIN … COMMIT on one client of the pool; ROLLBACK on any error, and a client that failed that is dropped. */
export async function transaction<T>(pool: Pool, work: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken = false;
  try {
    await client.query("begin");
    const result = await work(client);
    await client.query("commit");
    return result;
  } catch (error) {
    await client.query("rollback").catch(() => {
      broken = true;
    });
    throw error;
  } finally {
    client.release(broken);
  }
}
