import { customType, timestamp } from "drizzle-orm/pg-core";

/** Millisecond precision, so a timestamp survives a round trip through a JS Date (list cursors depend on it). */
export const instant = () => timestamp({ withTimezone: true, precision: 3, mode: "date" });

export const createdAt = () => instant().notNull().defaultNow();

/**
 * Ids compare byte-wise (collation "C") in every database, whatever its default collation, so that keyset
 * pagination merged across two databases orders ids exactly as JavaScript does.
 */
export const id = customType<{ data: string }>({ dataType: () => 'text COLLATE "C"' });
