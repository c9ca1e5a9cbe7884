import { describe, expect, it } from "vitest";
import { InvalidIdError } from "../../../worker/store/errors.ts";
import { mintCuid, mintKsuid, parseFriendlyId, residencyOf, toFriendlyId } from "../../../worker/store/ids.ts";

describe("ids", () => {
  it("mints cuids (legacy) and ksuids (new) of the documented shapes", () => {
    for (let i = 0; i < 1000; i++) {
      expect(mintCuid()).toMatch(/^c[a-z0-9]{24}$/);
      expect(mintKsuid()).toMatch(/^[0-9A-Za-z]{27}$/);
    }
    expect(residencyOf(mintCuid())).toBe("legacy");
    expect(residencyOf(mintKsuid())).toBe("new");
  });

  it("mints ksuids that sort by time as strings", () => {
    const earlier = mintKsuid(Date.UTC(2026, 0, 1));
    const later = mintKsuid(Date.UTC(2026, 0, 1, 0, 0, 1));
    expect(earlier < later).toBe(true);
    // At the KSUID epoch only the 16 random bytes remain: 22 base62 digits behind 5 zeros.
    expect(mintKsuid(Date.UTC(2014, 4, 13, 16, 53, 20))).toMatch(/^00000[0-9A-Za-z]{22}$/);
  });

  it("classifies anything else as unclassifiable", () => {
    for (const id of [
      "",
      "c",
      `C${"a".repeat(24)}`,
      `c${"A".repeat(24)}`,
      "x".repeat(26),
      "a".repeat(28),
      `c${"-".repeat(24)}`,
    ]) {
      expect(residencyOf(id)).toBeUndefined();
    }
  });

  it("parses friendly ids and refuses malformed ones with a clear error", () => {
    const cuid = mintCuid();
    const ksuid = mintKsuid();
    expect(parseFriendlyId("run", toFriendlyId("run", ksuid))).toEqual({ id: ksuid, residency: "new" });
    expect(parseFriendlyId("batch", `batch_${cuid}`)).toEqual({ id: cuid, residency: "legacy" });
    expect(() => parseFriendlyId("run", `batch_${cuid}`)).toThrow(InvalidIdError);
    expect(() => parseFriendlyId("run", "run_12")).toThrow(/not a run id/);
    expect(() => parseFriendlyId("run", `run_${"🚀".repeat(500)}`)).toThrow(InvalidIdError);
    expect(() => parseFriendlyId("waitpoint", `waitpoint_${ksuid}`)).toThrow(/not a waitpoint id/);
  });
});
