import { createExecutionContext, createMessageBatch, env, getQueueResult } from "cloudflare:test";
import { describe, expect, inject, it, vi } from "vitest";
import type { DispatchMessage } from "../../schema/contracts.ts";
import worker from "../../worker/index.ts";
import { backoffSeconds } from "../../worker/queue/consumer.ts";
import { toFriendlyId } from "../../worker/store/ids.ts";
import type { Run } from "../../worker/store/run-store.ts";
import { client, createTenant, executorToken, recordPendingRun, siteUrl, waitForRun, withStore } from "./support.ts";

const executorUrl = inject("executorUrl");
const browserCase = { case: { name: "home", steps: [{ action: "goto", url: "/" }] }, baseUrl: siteUrl };

async function acceptedByExecutor(): Promise<number> {
  const authorization = `Bearer ${inject("executorSecret")}`;
  const health = await fetch(`${executorUrl}/healthz`, { headers: { authorization } });
  return (await health.json<{ accepted: number }>()).accepted;
}

/** A recorded, undispatched run and the message its dispatch phase would send. */
async function recordedRun(task: DispatchMessage["task"], payload: unknown, secret?: string) {
  const { run, tenant, token } = await recordPendingRun(task, payload, { secret });
  const message: DispatchMessage = { runId: run.id, task, attempt: 1, token, dispatchedAt: new Date().toISOString() };
  return { run, message, tenant };
}

async function consume(body: unknown, settings: Record<string, string> = {}, queue = "run-dispatch", attempts = 1) {
  const batch = createMessageBatch(queue, [{ id: "message-1", timestamp: new Date(), attempts, body }]);
  const ctx = createExecutionContext();
  await worker.queue(batch, { ...env, ...settings }, ctx);
  return getQueueResult(batch, ctx);
}

const statusOf = (run: Run) => withStore({}, async (runs) => (await runs.loadRun(run.id))!.status);

describe("run-dispatch consumer", () => {
  it("acks once the executor accepted the job, and marks the run DEQUEUED", async () => {
    const { run, message } = await recordedRun("browser-case", browserCase);
    const before = await acceptedByExecutor();
    const result = await consume(message);
    expect(result.explicitAcks).toEqual(["message-1"]);
    expect(await acceptedByExecutor()).toBe(before + 1);
    expect(await statusOf(run)).toBe("DEQUEUED");
  });

  it("retries when the executor cannot be reached, leaving the run PENDING", async () => {
    const { run, message } = await recordedRun("browser-case", browserCase);
    const result = await consume(message, { EXECUTOR_URL: "http://127.0.0.1:9" });
    expect(result.explicitAcks).toEqual([]);
    expect(result.retryMessages).toEqual([{ msgId: "message-1" }]);
    expect(await statusOf(run)).toBe("PENDING");
  });

  it("retries when the executor refuses the job", async () => {
    const { message } = await recordedRun("browser-case", browserCase);
    const result = await consume(message, { EXECUTOR_SHARED_SECRET: "not-the-executor-secret" });
    expect(result.retryMessages).toHaveLength(1);
  });

  it("backs off exponentially between retries, capped at a minute", () => {
    expect([1, 2, 3, 5, 10].map(backoffSeconds)).toEqual([2, 4, 8, 32, 60]);
  });

  it("drops a malformed message, one whose token we did not sign or is for another attempt, untouched", async () => {
    expect((await consume({ runId: 42 })).explicitAcks).toEqual(["message-1"]);
    const { run, message } = await recordedRun("browser-case", browserCase, "someone-elses-secret-0123456789abcdef");
    expect((await consume(message)).explicitAcks).toEqual(["message-1"]);
    expect(await statusOf(run)).toBe("PENDING");
    const mislabeled = await recordedRun("http-check", { url: `${siteUrl}/`, method: "GET", expectStatus: 200 });
    const laterToken = await executorToken(toFriendlyId("run", mislabeled.run.id), mislabeled.tenant.environmentId, 2);
    // The message says attempt 1, its token attempt 2.
    expect((await consume({ ...mislabeled.message, token: laterToken })).explicitAcks).toEqual(["message-1"]);
    expect(await statusOf(mislabeled.run)).toBe("PENDING");
  });

  it("runs an http-check once even when its message is delivered twice", async () => {
    const group = crypto.randomUUID();
    const { run, message, tenant } = await recordedRun("http-check", {
      url: `${siteUrl}/slow?ms=50&group=${group}&seq=1`,
      method: "GET",
      expectStatus: 200,
      timeoutMs: 5_000,
    });
    await Promise.all([consume(message), consume(message)]);
    const stats = await (await fetch(`${siteUrl}/stats?group=${group}`)).json<{ arrivals: string[] }>();
    expect(stats.arrivals).toEqual(["1"]);
    const finished = await waitForRun(client(tenant.apiKey), toFriendlyId("run", run.id));
    expect(finished).toMatchObject({ status: "COMPLETED", attempt: 1 });
  });

  it("delivers a triggered run through the real local queue to the executor", async () => {
    const tenant = await createTenant();
    const before = await acceptedByExecutor();
    const { body } = await client(tenant.apiKey).json("POST", "/api/v1/tasks/browser-case/trigger", {
      payload: browserCase,
    });
    await vi.waitFor(async () => expect(await acceptedByExecutor()).toBeGreaterThan(before), {
      timeout: 10_000,
      interval: 100,
    });
    await waitForRun(client(tenant.apiKey), body.id, (run) => run.status === "DEQUEUED");
  });

  it("ends a run SYSTEM_FAILURE when its message lands in the dead-letter queue, and frees its slot", async () => {
    const { run, message, tenant } = await recordedRun("browser-case", browserCase);
    const result = await consume(message, {}, "run-dispatch-dlq", 6);
    expect(result.explicitAcks).toEqual(["message-1"]);
    const failed = await waitForRun(client(tenant.apiKey), toFriendlyId("run", run.id));
    expect(failed).toMatchObject({
      status: "SYSTEM_FAILURE",
      error: { message: expect.stringContaining("did not accept attempt 1") },
    });
  });
});
