/**
 * One job in the executor against a local HTTP server standing in for the Worker's /internal/runs API, so a
 * test can make the Worker answer what a real one answers in rare moments: a 409 because a later attempt holds
 * the run, or a failed screenshot upload. Real Chromium, real demo site.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { BrowserContext } from "playwright";
import { describe, expect, it } from "vitest";
import { type JobContext, runJob } from "../../executor/run-job.ts";
import type { CaseInput } from "../../schema/steps.ts";
import { useBrowserAndDemoSite } from "../support/browser.ts";

const demo = useBrowserAndDemoSite();

interface Call {
  path: string;
  body: unknown;
}

/** Answers `/internal/runs/run_1/<path>`: `answer` may override a path's reply (a status code), else success. */
async function standInWorker(testCase: CaseInput, answer: (path: string) => number | undefined, task = "browser-case") {
  const calls: Call[] = [];
  const read = async (request: IncomingMessage) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString();
    return request.headers["content-type"] === "application/json" && text ? JSON.parse(text) : text.length;
  };
  const server: Server = createServer(async (request, response) => {
    const path = request.url!.replace("/internal/runs/run_1/", "");
    calls.push({ path, body: await read(request) });
    const status = answer(path);
    if (status) {
      response
        .writeHead(status, { "content-type": "application/problem+json" })
        .end(JSON.stringify({ status, title: "stand-in" }));
      return;
    }
    const json = (body: unknown, code = 200) =>
      response.writeHead(code, { "content-type": "application/json" }).end(JSON.stringify(body));
    if (path === "claim")
      json({
        id: "run_1",
        task,
        status: "EXECUTING",
        payload: { case: testCase, baseUrl: demo.site.url },
        attempt: 1,
        maxAttempts: 1,
      });
    else if (path.startsWith("artifacts/")) json({ key: `runs/run_1/artifacts/1/${path.slice(10)}`, url: "" }, 201);
    else if (path === "complete")
      json({ id: "run_1", task: "browser-case", status: "COMPLETED", payload: null, attempt: 1, maxAttempts: 1 });
    else response.writeHead(204).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, calls, close: () => new Promise((resolve) => server.close(resolve)) };
}

/** Runs the job through `worker`, on contexts that report when they close. */
async function runThrough(worker: { url: string }) {
  const closed: BrowserContext[] = [];
  const tracking = {
    ...demo.browser,
    async newContext() {
      const context = await demo.browser.newContext();
      context.on("close", () => closed.push(context));
      return context;
    },
  };
  const warnings: string[] = [];
  const context: JobContext = {
    config: { WORKER_URL: worker.url, HEARTBEAT_INTERVAL_MS: 60_000 },
    browser: async () => tracking,
    stop: new AbortController().signal,
    log: { info() {}, warn: (message: string) => warnings.push(message), error() {} },
  };
  const job = {
    runId: "1",
    task: "browser-case" as const,
    attempt: 1,
    token: "t",
    dispatchedAt: new Date().toISOString(),
  };
  await runJob(job, context, () => {});
  return { closed, warnings };
}

describe("an executor job", { timeout: 60_000 }, () => {
  it("fails a repository suite, saying why, where the executor may not run repository code", async () => {
    const worker = await standInWorker({ name: "unused", steps: [] }, () => undefined, "spec-suite");
    try {
      await runThrough(worker);
      const completion = worker.calls.find((call) => call.path === "complete")?.body as {
        status: string;
        error: { message: string };
        retryable: boolean;
      };
      expect(completion).toMatchObject({ status: "FAILED", retryable: false });
      expect(completion.error.message).toContain("RUN_REPOSITORY_CODE=true");
    } finally {
      await worker.close();
    }
  });

  it("stops the case and closes its browser context when the Worker answers 409 to its events", async () => {
    const worker = await standInWorker(
      {
        name: "long",
        steps: [
          { action: "goto", url: "/" },
          { action: "waitFor", ms: 60_000 },
        ],
      },
      (path) => (path === "events" ? 409 : undefined),
    );
    try {
      const started = performance.now();
      const { closed } = await runThrough(worker);
      // The wait step alone would take 60 s; the 409 ended it long before, and nothing was reported.
      expect(performance.now() - started).toBeLessThan(45_000);
      expect(closed).toHaveLength(1);
      expect(worker.calls.map((call) => call.path)).not.toContain("complete");
    } finally {
      await worker.close();
    }
  });

  it("reports the steps without the screenshot whose upload failed, with a note, instead of crashing", async () => {
    const steps = [
      { action: "goto", url: "/" },
      { action: "screenshot", name: "home" },
      { action: "expectTitle", title: "Not this page", timeoutMs: 1_000 },
    ] as const;
    const worker = await standInWorker({ name: "fails", steps: [...steps] }, (path) =>
      path === "artifacts/failure.png" ? 500 : undefined,
    );
    try {
      const { warnings } = await runThrough(worker);
      const complete = worker.calls.find((call) => call.path === "complete");
      expect(complete?.body).toMatchObject({
        status: "FAILED",
        error: { stepIndex: 2, screenshotUrl: null },
        output: { notes: [expect.stringContaining("failure.png not kept: the upload failed")] },
        steps: [
          { index: 0, status: "PASSED", screenshotKey: null },
          { index: 1, status: "PASSED", screenshotKey: "runs/run_1/artifacts/1/step-1-home.png" },
          { index: 2, status: "FAILED", screenshotKey: null },
        ],
      });
      expect(warnings.join("\n")).toContain("failure.png not uploaded");
    } finally {
      await worker.close();
    }
  });
});
