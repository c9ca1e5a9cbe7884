/** Durations as the API takes them: "500ms", "30s", "5m", "1h", "2d"; or a point in time (ISO 8601). */
import * as z from "./zod.ts";

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const DURATION = /^(\d{1,9})(ms|s|m|h|d)$/;
/** Nothing we schedule (a delay, a timeout, a key's lifetime) sensibly lies further out; far beyond, Dates overflow. */
const MAX_DURATION_MS = 365 * UNIT_MS.d;
const CAP = "at most 365 days";

const milliseconds = (duration: string) => {
  const [, amount, unit] = DURATION.exec(duration)!;
  return Number(amount) * UNIT_MS[unit as keyof typeof UNIT_MS];
};

const durationText = z.string().check(z.regex(DURATION, 'expected a duration like "500ms", "30s", "5m", "1h" or "2d"'));
export const durationSchema = z
  .pipe(durationText, z.transform(milliseconds))
  .check(z.refine((ms) => ms <= MAX_DURATION_MS, `must be ${CAP}`));

const isoDate = z.iso.datetime({ offset: true });

/**
 * A duration from now, or an ISO 8601 date no more than 365 days ahead: resolved to a Date when parsed. One
 * string schema rather than a union, so a client reads the one issue that applies (e.g. the cap).
 */
export const pointInTimeSchema = z.pipe(
  z.string(),
  z.transform((value: string, ctx) => {
    // One reading of the clock: a duration's cap is checked on the duration itself, a date's against that reading.
    const now = Date.now();
    const ahead = DURATION.test(value)
      ? milliseconds(value)
      : isoDate.safeParse(value).success
        ? Date.parse(value) - now
        : NaN;
    // zod/mini's transform context has no addIssue: an issue is pushed as it is.
    if (Number.isNaN(ahead)) {
      const message = 'expected a duration like "30s" or "2d", or an ISO 8601 date';
      ctx.issues.push({ code: "custom", message, input: value });
    } else if (ahead > MAX_DURATION_MS) {
      ctx.issues.push({ code: "custom", message: `must be ${CAP} from now`, input: value });
    } else return new Date(now + ahead);
    return z.NEVER;
  }),
);
