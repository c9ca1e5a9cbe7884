import { spawnSync } from "node:child_process";
import { inject, describe, expect, it } from "vitest";

const executorUrl = inject("executorUrl");
const secret = inject("executorSecret");

function job(body: unknown, authorization = `Bearer ${secret}`) {
  return fetch(`${executorUrl}/jobs`, {
    method: "POST",
    headers: { authorization, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

describe("executor process", () => {
  it("stops at start with a message naming a missing setting", () => {
    const result = spawnSync(process.execPath, ["executor/main.ts"], {
      env: { PATH: process.env.PATH, PORT: "0" },
      encoding: "utf8",
      timeout: 20_000,
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("EXECUTOR_SHARED_SECRET: required");
  });

  it("stops at start with a message naming a malformed setting", () => {
    const result = spawnSync(process.execPath, ["executor/main.ts"], {
      env: { PATH: process.env.PATH, PORT: "eighty", EXECUTOR_SHARED_SECRET: secret },
      encoding: "utf8",
      timeout: 20_000,
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("PORT:");
  });
});

describe("executor job intake", () => {
  const valid = { runId: "cjob", task: "browser-case", attempt: 1, token: "t", dispatchedAt: new Date().toISOString() };

  it("accepts a valid job from a caller holding the shared secret", async () => {
    const response = await job(valid);
    expect(response.status).toBe(202);
  });

  it("refuses a caller without the shared secret", async () => {
    expect((await job(valid, "Bearer wrong")).status).toBe(401);
  });

  it("refuses a job that is not a dispatch message", async () => {
    expect((await job({ ...valid, task: "mine-bitcoin" })).status).toBe(422);
  });
});
