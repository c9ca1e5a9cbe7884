import { spawnSync } from "node:child_process";
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { inject, describe, expect, it, vi } from "vitest";
import { loadExecutorConfig } from "../../executor/config.ts";
import { startExecutorServer } from "../../executor/server.ts";

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

describe("executor intake: a bounded backlog, errors as problem+json, a backlog handed back on shutdown", () => {
  const quiet = { info() {}, warn() {}, error() {} };
  const sharedSecret = "intake-test-secret-0123456789";
  const dispatch = (runId: string) => ({
    runId,
    task: "browser-case",
    attempt: 1,
    token: "t",
    dispatchedAt: new Date().toISOString(),
  });

  it("runs one case, keeps one waiting, refuses the next with 503, and releases the waiting one on close", async () => {
    // The Worker's stand-in holds every claim until the test answers it, so the first job keeps its slot.
    const claims: ServerResponse[] = [];
    const released: string[] = [];
    const worker = createServer((req, res) => {
      if (req.url?.endsWith("/claim")) return void claims.push(res);
      if (req.url?.endsWith("/release")) released.push(req.url.split("/")[3]!);
      res.writeHead(204).end();
    });
    await new Promise<void>((resolve) => worker.listen(0, "127.0.0.1", resolve));
    const workerUrl = `http://127.0.0.1:${(worker.address() as AddressInfo).port}`;
    const settings = {
      PORT: "0",
      HOST: "127.0.0.1",
      EXECUTOR_SHARED_SECRET: sharedSecret,
      WORKER_URL: workerUrl,
      EXECUTOR_CONCURRENCY: "1",
      EXECUTOR_BACKLOG: "1",
    };
    const executor = await startExecutorServer(loadExecutorConfig(settings), quiet);
    const post = (path: string, body: unknown, authorization = `Bearer ${sharedSecret}`) =>
      fetch(`${executor.url}${path}`, { method: "POST", headers: { authorization }, body: JSON.stringify(body) });
    const problem = async (response: Response) => ({
      status: response.status,
      type: response.headers.get("content-type"),
      body: await response.json(),
    });
    try {
      expect((await post("/jobs", dispatch("running"))).status).toBe(202);
      await vi.waitFor(() => expect(claims).toHaveLength(1));
      expect((await post("/jobs", dispatch("waiting"))).status).toBe(202);
      expect(await problem(await post("/jobs", dispatch("refused")))).toEqual({
        status: 503,
        type: "application/problem+json",
        body: {
          type: "https://flightcheck.dev/problems/503",
          title: "Unavailable",
          status: 503,
          detail: "backlog full",
        },
      });
      const health = await fetch(`${executor.url}/healthz`, { headers: { authorization: `Bearer ${sharedSecret}` } });
      expect(await health.json()).toMatchObject({ capacity: 1, running: 1, backlog: 1, accepted: 2, refused: 1 });

      expect(await problem(await post("/jobs", dispatch("x"), "Bearer wrong"))).toMatchObject({
        status: 401,
        type: "application/problem+json",
        body: { title: "Unauthorized" },
      });
      expect(await problem(await post("/jobs", { runId: "x" }))).toMatchObject({
        status: 422,
        type: "application/problem+json",
        body: { title: "Invalid job", errors: expect.arrayContaining([expect.objectContaining({ path: ["task"] })]) },
      });
      expect(await problem(await post("/nowhere", {}))).toMatchObject({
        status: 404,
        type: "application/problem+json",
      });

      const closing = executor.close();
      await vi.waitFor(() => expect(released).toEqual(["run_waiting"]));
      expect(await problem(await post("/jobs", dispatch("late")))).toMatchObject({
        status: 503,
        body: { detail: "shutting down" },
      });
      // The running case's claim comes back refused (the run moved on): its job ends, and the close with it.
      claims[0]!.writeHead(409).end("gone");
      await closing;
    } finally {
      worker.close();
    }
  });
});
