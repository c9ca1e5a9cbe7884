/** The transition table (schema/run-states.ts): every guard the stores' compare-and-sets use comes from it. */
import { describe, expect, it } from "vitest";
import {
  ACTIVE_STATUSES,
  FAILED_STATUSES,
  NOT_STARTED_STATUSES,
  RUN_STATUSES,
  canTransition,
  isFinal,
  releasesIdempotencyKey,
  sourcesOf,
} from "../../schema/run-states.ts";

const FINAL = ["COMPLETED", "FAILED", "CANCELED", "CRASHED", "SYSTEM_FAILURE", "EXPIRED", "TIMED_OUT"];

describe("the run transition table", () => {
  it("makes exactly the seven end states final, and nothing leaves them", () => {
    expect(RUN_STATUSES.filter(isFinal)).toEqual(FINAL);
    for (const from of FINAL) for (const to of RUN_STATUSES) expect(canTransition(from as never, to)).toBe(false);
  });

  it("lets every unfinished status be canceled, and none move to itself", () => {
    for (const status of RUN_STATUSES.filter((status) => !isFinal(status))) {
      expect(canTransition(status, "CANCELED")).toBe(true);
      expect(canTransition(status, status)).toBe(false);
    }
  });

  it.each([
    ["PENDING", ["DELAYED", "QUEUED", "DEQUEUED", "EXECUTING", "WAITING"]],
    ["EXECUTING", ["PENDING", "DEQUEUED", "WAITING"]],
    ["WAITING", ["EXECUTING"]],
    ["COMPLETED", ["EXECUTING", "WAITING"]],
    ["EXPIRED", ["DELAYED", "QUEUED", "PENDING", "DEQUEUED"]],
    ["QUEUED", ["DELAYED"]],
  ] as const)("moves into %s only from %j", (to, from) => {
    expect(sourcesOf(to)).toEqual(from);
  });

  it("never rewinds a started run to a queue: EXECUTING and WAITING go back only to PENDING, for a retry", () => {
    expect(canTransition("EXECUTING", "QUEUED")).toBe(false);
    expect(canTransition("WAITING", "DELAYED")).toBe(false);
    expect(canTransition("EXECUTING", "PENDING")).toBe(true);
  });

  it("answers false for a status it does not know (a stray live event)", () => {
    expect(isFinal("SHOUTING")).toBe(false);
  });
});

describe("status groups", () => {
  it("holds a concurrency slot only while admitted and unfinished", () => {
    expect(ACTIVE_STATUSES).toEqual(["PENDING", "DEQUEUED", "EXECUTING", "WAITING"]);
    expect(ACTIVE_STATUSES.some(isFinal)).toBe(false);
  });

  it("lets a run expire (its ttl) exactly while it has not started", () => {
    expect(sourcesOf("EXPIRED")).toEqual(NOT_STARTED_STATUSES);
  });

  it("gives the idempotency key back for unsuccessful end states only", () => {
    expect(RUN_STATUSES.filter(releasesIdempotencyKey)).toEqual(FAILED_STATUSES);
    expect(releasesIdempotencyKey("COMPLETED")).toBe(false);
    expect(releasesIdempotencyKey("CANCELED")).toBe(false);
    expect(FAILED_STATUSES.every(isFinal)).toBe(true);
  });
});
