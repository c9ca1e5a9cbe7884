/** The control-plane tables live only in `legacy`: every store over them speaks the store's error language as it. */
import type { Pool } from "@neondatabase/serverless";
import { normaliseStoreError } from "./errors.ts";
import { type Queryable, type Table, query } from "./sql.ts";

export abstract class LegacyTables {
  protected readonly pool: Pool;

  constructor(pool: Pool) {
    this.pool = pool;
  }

  protected async guard<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      throw normaliseStoreError(error, "legacy");
    }
  }

  /** Rows of `table` (from the pool, or `db`), in the store's error language. */
  protected select<T>(table: Table, text: string, params: unknown[], db: Queryable = this.pool): Promise<T[]> {
    return this.guard(() => query<T>(db, table, text, params));
  }
}
