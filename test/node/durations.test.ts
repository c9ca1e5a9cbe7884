/** Durations past the cap are refused however the clock moves while the request is parsed (a busy machine). */
import { afterEach, describe, expect, it, vi } from "vitest";
import { pointInTimeSchema } from "../../schema/durations.ts";

afterEach(() => vi.restoreAllMocks());

describe("pointInTimeSchema", () => {
  it("refuses a duration past 365 days even when the clock advances between readings", () => {
    let now = Date.parse("2026-12-05T00:00:00Z");
    vi.spyOn(Date, "now").mockImplementation(() => (now += 5));
    for (const value of ["99999999d", "366d", "9999-12-31T00:00:00Z"]) {
      expect(pointInTimeSchema.safeParse(value).success, value).toBe(false);
    }
    expect(pointInTimeSchema.parse("365d").getTime() - now).toBeLessThanOrEqual(365 * 86_400_000);
  });
});
