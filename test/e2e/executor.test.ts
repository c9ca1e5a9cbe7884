/**
 * Browser cases end to end on the local stack (`npm run dev`): trigger → queue → executor (real Chromium)
 * → step results, screenshots and the run's status back in the Worker. The sites under test are real local
 * servers: the demo site, and the counting site to see how often a case really ran.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { eq } from "drizzle-orm";
import * as runOps from "../../schema/run-ops.ts";
import { demoSuite } from "../../scripts/demo-suite.ts";
import { type DemoSite, startDemoSite } from "../../scripts/demo-site.ts";
import { type DevState, apiClient, devStack } from "../../scripts/dev-stack.ts";
import { freePort } from "../../scripts/net.ts";
import { signToken } from "../../worker/runs/tokens.ts";
import { connect } from "../../worker/store/database.ts";
import { parseFriendlyId } from "../../worker/store/ids.ts";
import { startSite } from "../support/site.ts";

const stack = await devStack({
  env: { HEARTBEAT_TIMEOUT_MS: "3000", HEARTBEAT_INTERVAL_MS: "500", SHUTDOWN_GRACE_MS: "500" },
});
let dev: DevState;
let demo: DemoSite;
let probe: Awaited<ReturnType<typeof startSite>>;

beforeAll(async () => {
  [dev, demo, probe] = await Promise.all([stack.start(), startDemoSite(), startSite()]);
});
afterAll(async () => {
  await Promise.all([stack.dispose(), demo?.close(), probe?.close()]);
});

const api = (method: string, path: string, body?: unknown) => apiClient(dev)(method, path, body);

async function trigger(testCase: unknown, options: Record<string, unknown> = {}): Promise<string> {
  const { status, body } = await api("POST", "/api/v1/tasks/browser-case/trigger", {
    payload: { case: testCase, baseUrl: demo.url },
    options,
  });
  expect(status, JSON.stringify(body)).toBe(201);
  return body.id;
}

const FINAL = ["COMPLETED", "FAILED", "CANCELED", "CRASHED", "SYSTEM_FAILURE", "EXPIRED", "TIMED_OUT"];

function runUntil(id: string, done: (run: any) => boolean = (run) => FINAL.includes(run.status), timeout = 180_000) {
  return vi.waitFor(
    async () => {
      const { body } = await api("GET", `/api/v1/runs/${id}`);
      expect(done(body), `${id} is ${body.status} (attempt ${body.attempt})`).toBe(true);
      return body;
    },
    { timeout, interval: 100 },
  );
}

const executorHealth = async () => {
  const authorization = `Bearer ${dev.executorSecret}`;
  const health = await fetch(`${dev.executorUrl}/healthz`, { headers: { authorization } });
  return (await health.json()) as { pid: number; finished: number };
};

describe("browser cases on the local stack", () => {
  it("runs a passing case and keeps every step's result", async () => {
    const run = await runUntil(await trigger(demoSuite.cases[0]));
    expect(run.status).toBe("COMPLETED");
    expect(run.steps).toHaveLength(demoSuite.cases[0]!.steps.length);
    expect(run.steps.every((step: { status: string }) => step.status === "PASSED")).toBe(true);
    expect(run.steps[1]).toMatchObject({ action: "fill", label: expect.stringContaining("Email") });
  });

  it("fails a case at its failing step with the message and a screenshot; an assertion is not retried", async () => {
    const run = await runUntil(await trigger(demoSuite.cases[3], { maxAttempts: 2 }));
    expect(run).toMatchObject({ status: "FAILED", attempt: 1 });
    expect(run.error.message).toContain("Free shipping on every order");
    const failed = run.steps.find((step: { status: string }) => step.status === "FAILED");
    expect(failed).toMatchObject({ index: 1, action: "expectText", screenshotUrl: run.error.screenshotUrl });
    const image = await fetch(`${dev.apiUrl}${failed.screenshotUrl}`, {
      headers: { authorization: `Bearer ${dev.apiKey}` },
    });
    expect(image.headers.get("content-type")).toBe("image/png");
    expect(Buffer.from(await image.arrayBuffer()).subarray(0, 4)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47]));
  });

  it("stops a hanging case at its timeout", async () => {
    const started = Date.now();
    const run = await runUntil(
      await trigger({ name: "hangs", timeoutMs: 2_000, steps: [{ action: "goto", url: "/hang" }] }),
    );
    expect(run.status).toBe("TIMED_OUT");
    expect(run.error.message).toContain("timed out");
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it("waits on a token and uses its output in later steps", async () => {
    const key = `preview-${crypto.randomUUID()}`;
    const id = await trigger({
      name: "gated on the preview",
      steps: [
        { action: "waitForToken", idempotencyKey: key, timeoutMs: 60_000, saveAs: "preview" },
        { action: "goto", url: "{{preview.url}}" },
        { action: "expectTitle", title: "About · Flightcheck Demo" },
      ],
    });
    await runUntil(id, (run) => run.status === "WAITING");
    const token = await api("POST", "/api/v1/waitpoints/tokens", { idempotencyKey: key });
    expect(token.body.isCached).toBe(true);
    await api("POST", `/api/v1/waitpoints/tokens/${token.body.id}/complete`, { data: { url: `${demo.url}/about` } });
    const run = await runUntil(id);
    expect(run.status, JSON.stringify(run.error)).toBe("COMPLETED");
  });

  it("retries a page that would not load, up to maxAttempts", async () => {
    const closed = `http://127.0.0.1:${await freePort()}/`;
    const run = await runUntil(
      await trigger({ name: "site down", steps: [{ action: "goto", url: closed }] }, { maxAttempts: 2 }),
    );
    expect(run).toMatchObject({ status: "FAILED", attempt: 2 });
    expect(run.error.message).toContain("net::ERR_CONNECTION_REFUSED");
  });

  it("runs a case once when its message is delivered twice", async () => {
    const group = crypto.randomUUID();
    const id = await trigger({
      name: "counted",
      steps: [{ action: "goto", url: `${probe.url}/slow?ms=1&group=${group}&seq=1` }],
    });
    await runUntil(id);
    // Deliver the same message again, as the queue may: same run, same attempt, a valid token.
    const runId = parseFriendlyId("run", id).id;
    const database = connect(dev.databases.runops, { wsProxy: dev.wsProxyUrl });
    const [row] = await database.db.select().from(runOps.runs).where(eq(runOps.runs.id, runId));
    await database.close();
    const token = await signToken(
      dev.signingSecret,
      { scope: "executor", sub: id, env: row!.environmentId, attempt: 1 },
      600,
    );
    const before = (await executorHealth()).finished;
    const redelivered = await fetch(`${dev.executorUrl}/jobs`, {
      method: "POST",
      headers: { authorization: `Bearer ${dev.executorSecret}`, "content-type": "application/json" },
      body: JSON.stringify({ runId, task: "browser-case", attempt: 1, token, dispatchedAt: new Date().toISOString() }),
    });
    expect(redelivered.status).toBe(202);
    await vi.waitFor(async () => expect((await executorHealth()).finished).toBeGreaterThan(before));
    const stats = (await (await fetch(`${probe.url}/stats?group=${group}`)).json()) as { arrivals: string[] };
    expect(stats.arrivals).toHaveLength(1);
  });

  it("hands a running case back for another attempt when the executor is told to stop (SIGTERM)", async () => {
    const id = await trigger(
      { name: "hangs until stopped", timeoutMs: 600_000, steps: [{ action: "goto", url: "/hang" }] },
      { maxAttempts: 2 },
    );
    await runUntil(id, (run) => run.status === "EXECUTING" && run.attempt === 1);
    process.kill((await executorHealth()).pid, "SIGTERM");
    const retried = await runUntil(id, (run) => run.status === "EXECUTING" && run.attempt === 2);
    // Attempt 1 was reported, not left to the heartbeat watchdog: its step results are there.
    expect(retried.steps.filter((step: { attempt: number }) => step.attempt === 1)).toHaveLength(1);
    await api("POST", `/api/v1/runs/${id}/cancel`);
  });

  it("retries a case whose executor was killed, then CRASHES it after maxAttempts", async () => {
    const id = await trigger(
      { name: "hangs until killed", timeoutMs: 600_000, steps: [{ action: "goto", url: "/hang" }] },
      { maxAttempts: 2 },
    );
    for (const attempt of [1, 2]) {
      await runUntil(id, (run) => run.status === "EXECUTING" && run.attempt === attempt);
      process.kill((await executorHealth()).pid, "SIGKILL"); // `npm run dev` restarts it, as the platform would
    }
    const run = await runUntil(id);
    expect(run).toMatchObject({ status: "CRASHED", attempt: 2 });
    expect(run.error.message).toContain("No heartbeat");
  });
});
