/** The control-plane tables live only in `legacy`: every store over them speaks the store's error language as it. */
import type { Pool } from "@neondatabase/serverless";
import { type Database, database } from "./database.ts";
import { normaliseStoreError } from "./errors.ts";

export abstract class LegacyTables {
  protected readonly pool: Pool;
  protected readonly db: Database;

  constructor(pool: Pool) {
    this.pool = pool;
    this.db = database(pool);
  }

  protected async guard<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      throw normaliseStoreError(error, "legacy");
    }
  }
}
