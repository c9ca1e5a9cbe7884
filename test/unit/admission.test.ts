/**
 * The rules the engine applies around the admissions ledger (DESIGN §11): what a ledger row makes of a run, and
 * which executor attempt holds a run (attempts are fenced).
 */
import { describe, expect, it } from "vitest";
import { holdsAttempt } from "../../worker/runs/execute.ts";
import { admittedFields } from "../../worker/runs/promote.ts";
import type { Run } from "../../worker/store/run-store.ts";

const queuedAt = new Date("2026-12-01T10:00:00Z");
const admittedAt = new Date("2026-12-01T10:05:00Z");
const row = { runId: "c1", organizationId: "o1", residency: "legacy" as const, queuedAt, admittedAt };

describe("admission", () => {
  it("makes an ACTIVE row a PENDING run holding its slot since it was admitted", () => {
    expect(admittedFields({ ...row, state: "ACTIVE" })).toEqual({ status: "PENDING", queuedAt, admittedAt });
  });

  it("makes a QUEUED row a QUEUED run at its place in the queue, not admitted", () => {
    expect(admittedFields({ ...row, state: "QUEUED" })).toEqual({ status: "QUEUED", queuedAt, admittedAt: null });
  });
});

describe("attempt fencing", () => {
  const at = (status: Run["status"], attempt: number) => ({ status, attempt }) as Run;

  it("gives an unclaimed run to the attempt that was dispatched (one past the store's)", () => {
    expect(holdsAttempt(at("PENDING", 0), 1)).toBe(true);
    expect(holdsAttempt(at("DEQUEUED", 1), 2)).toBe(true);
    expect(holdsAttempt(at("DEQUEUED", 1), 1)).toBe(false);
  });

  it("gives a claimed run to the attempt that claimed it, never to an earlier one", () => {
    expect(holdsAttempt(at("EXECUTING", 2), 2)).toBe(true);
    expect(holdsAttempt(at("WAITING", 2), 2)).toBe(true);
    expect(holdsAttempt(at("EXECUTING", 2), 1)).toBe(false);
  });
});
