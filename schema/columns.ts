import { timestamp } from "drizzle-orm/pg-core";

/** Millisecond precision, so a timestamp survives a round trip through a JS Date (list cursors depend on it). */
export const instant = () => timestamp({ withTimezone: true, precision: 3, mode: "date" });

export const createdAt = () => instant().notNull().defaultNow();
