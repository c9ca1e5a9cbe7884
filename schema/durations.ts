/** Durations as the API takes them: "500ms", "30s", "5m", "1h", "2d"; or a point in time (ISO 8601). */
import * as z from "zod";

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const DURATION = /^(\d{1,9})(ms|s|m|h|d)$/;

export const durationSchema = z
  .string()
  .regex(DURATION, 'expected a duration like "500ms", "30s", "5m", "1h" or "2d"')
  .transform((value) => {
    const [, amount, unit] = DURATION.exec(value)!;
    return Number(amount) * UNIT_MS[unit as keyof typeof UNIT_MS];
  });

/** A duration from now, or an ISO 8601 date: resolved to a Date when parsed. */
export const pointInTimeSchema = z.union([
  durationSchema.transform((ms) => new Date(Date.now() + ms)),
  z.iso.datetime({ offset: true }).transform((value) => new Date(value)),
]);
