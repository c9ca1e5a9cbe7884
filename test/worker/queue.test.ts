import { createExecutionContext, createMessageBatch, env, getQueueResult } from "cloudflare:test";
import { inject, describe, expect, it, vi } from "vitest";
import type { DispatchMessage } from "../../schema/contracts.ts";
import worker from "../../worker/index.ts";
import { backoffSeconds } from "../../worker/queue/consumer.ts";

const executorUrl = inject("executorUrl");

function dispatchMessage(runId: string): DispatchMessage {
  return { runId, task: "http-check", token: "run-scoped-token", dispatchedAt: new Date().toISOString() };
}

async function acceptedByExecutor(): Promise<number> {
  const response = await fetch(`${executorUrl}/healthz`);
  return (await response.json<{ accepted: number }>()).accepted;
}

async function consume(body: unknown, overrides: Record<string, string> = {}, attempts = 1) {
  const batch = createMessageBatch("run-dispatch", [{ id: "message-1", timestamp: new Date(), attempts, body }]);
  await worker.queue(batch, { ...env, ...overrides });
  return getQueueResult(batch, createExecutionContext());
}

describe("run-dispatch consumer", () => {
  it("acks a message once the executor accepted the job", async () => {
    const before = await acceptedByExecutor();
    const result = await consume(dispatchMessage("cabc"));
    expect(result.explicitAcks).toEqual(["message-1"]);
    expect(result.retryMessages).toEqual([]);
    expect(await acceptedByExecutor()).toBe(before + 1);
  });

  it("retries when the executor cannot be reached", async () => {
    const result = await consume(dispatchMessage("cabc"), { EXECUTOR_URL: "http://127.0.0.1:9" });
    expect(result.explicitAcks).toEqual([]);
    expect(result.retryMessages).toEqual([{ msgId: "message-1" }]);
  });

  it("backs off exponentially between retries, capped at a minute", () => {
    expect([1, 2, 3, 5, 10].map(backoffSeconds)).toEqual([2, 4, 8, 32, 60]);
  });

  it("retries when the executor refuses the job", async () => {
    const result = await consume(dispatchMessage("cabc"), { EXECUTOR_SHARED_SECRET: "not-the-executor-secret" });
    expect(result.explicitAcks).toEqual([]);
    expect(result.retryMessages).toHaveLength(1);
  });

  it("drops a malformed message instead of redelivering it forever", async () => {
    const result = await consume({ runId: 42 });
    expect(result.explicitAcks).toEqual(["message-1"]);
    expect(result.retryMessages).toEqual([]);
  });

  it("delivers a message sent on the real local queue to the executor", async () => {
    const before = await acceptedByExecutor();
    await env.RUN_DISPATCH.send(dispatchMessage("cqueued"));
    await vi.waitFor(async () => expect(await acceptedByExecutor()).toBe(before + 1), { timeout: 10_000, interval: 100 });
  });
});
