/** Flaky tests and annotations in a check run's output (executor/check-run-output.ts, issue #17). */
import { describe, expect, it } from "vitest";
import { MAX_ANNOTATIONS, renderAnnotations, renderSummary, renderTitle } from "../../executor/check-run-output.ts";
import type { CheckRunCase } from "../../schema/github.ts";

const failing = (index: number): CheckRunCase => ({
  name: `spec ${index}`,
  status: "FAILED",
  failingStep: { index: 0, label: "expect", message: `wrong text ${index}` },
  location: { path: "tests/a.spec.ts", line: index + 1 },
});
const detailsUrl = "https://flightcheck.example/runs/batch_x?token=t";

describe("a check run of repository tests", () => {
  it("lists a flaky test as passed and flaky", () => {
    const cases: CheckRunCase[] = [
      { name: "steady", status: "COMPLETED" },
      { name: "wobbly", status: "COMPLETED", flaky: true },
    ];
    expect(renderTitle({ status: "completed", cases })).toBe("2 passed (1 flaky)");
    expect(renderSummary({ cases, detailsUrl })).toMatch(/\| ⚠️ flaky \| wobbly \|/);
  });

  it("annotates failures at their spec line, flaky tests as warnings, only when completed, at most 50", () => {
    const cases = [
      failing(0),
      { name: "wobbly", status: "COMPLETED" as const, flaky: true, location: { path: "tests/b.spec.ts", line: 9 } },
      { name: "fine", status: "COMPLETED" as const, location: { path: "tests/c.spec.ts", line: 1 } },
    ];
    expect(renderAnnotations({ status: "in_progress", cases })).toEqual([]);
    expect(renderAnnotations({ status: "completed", cases })).toEqual([
      {
        path: "tests/a.spec.ts",
        start_line: 1,
        end_line: 1,
        annotation_level: "failure",
        title: "spec 0",
        message: "wrong text 0",
      },
      {
        path: "tests/b.spec.ts",
        start_line: 9,
        end_line: 9,
        annotation_level: "warning",
        title: "wobbly",
        message: "failed, then passed on a retry",
      },
    ]);
    const many = Array.from({ length: 80 }, (_, index) => failing(index));
    expect(renderAnnotations({ status: "completed", cases: many })).toHaveLength(MAX_ANNOTATIONS);
  });
});
