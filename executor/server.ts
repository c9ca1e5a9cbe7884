/**
 * The executor's HTTP face. The queue consumer hands it one dispatch message per run (POST /jobs); 202 means
 * "accepted": the job runs now or waits in a bounded backlog (heartbeated like a running job). A full
 * backlog answers 503 and the queue retries later with backoff. Jobs run with bounded concurrency on one
 * shared browser.
 */
import { timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { type DispatchMessage, dispatchMessageSchema } from "../schema/contracts.ts";
import { checkRunSyncSchema } from "../schema/github.ts";
import { httpCheckPayloadSchema } from "../schema/tasks.ts";
import { type SharedBrowser, launchSharedBrowser } from "./browser.ts";
import type { ExecutorConfig } from "./config.ts";
import { type EgressPolicy } from "./egress.ts";
import { GitHubError, createGitHubApp } from "./github.ts";
import { runHttpCheck } from "./http-check.ts";
import { ShuttingDown, runJob } from "./run-job.ts";
import { RunGone, workerClient } from "./worker-client.ts";

/** A check run's state carries up to 500 cases with their failure messages. */
const MAX_BODY_BYTES = 8 * 1024 * 1024;

export interface ExecutorServer {
  url: string;
  /** Launches the browser now rather than with the first job (and logs its version). */
  warm(): Promise<void>;
  /**
   * SIGTERM: stop taking jobs, give the backlog back (dispatched again elsewhere), let running cases finish
   * within the grace period, then stop them (reported retryable) and close.
   */
  close(): Promise<void>;
}

export async function startExecutorServer(config: ExecutorConfig, log: Pick<Console, "info" | "warn" | "error"> = console): Promise<ExecutorServer> {
  const stats = { accepted: 0, finished: 0, refused: 0 };
  const backlog: DispatchMessage[] = [];
  /** Jobs not yet reported; `cases` of them hold a browser slot. */
  const jobs = new Set<Promise<void>>();
  let cases = 0;
  const stop = new AbortController();
  let draining = false;
  let browser: Promise<SharedBrowser> | undefined;
  const egress: EgressPolicy = { allowPrivate: config.ALLOW_PRIVATE_TARGETS };
  const launchOptions = { loopbackOnly: config.BROWSER_LOOPBACK_ONLY, egress, logger: log };
  const sharedBrowser = () => (browser ??= launchSharedBrowser(launchOptions));
  const context = { config, browser: sharedBrowser, stop: stop.signal, log };

  const pump = () => {
    while (cases < config.EXECUTOR_CONCURRENCY && backlog.length > 0) {
      const job = backlog.shift()!;
      cases += 1;
      const caseDone = () => {
        cases -= 1;
        pump();
      };
      const work = runJob(job, context, caseDone)
        .catch((error) => log.error(`run_${job.runId}: ${(error as Error).message}`))
        .finally(() => {
          jobs.delete(work);
          stats.finished += 1;
        });
      jobs.add(work);
    }
  };

  // Jobs waiting in the backlog are heartbeated too: if this process dies, the Worker sees them go silent
  // and dispatches them again. One the Worker no longer wants here (canceled, re-dispatched) is dropped.
  const backlogBeat = setInterval(() => {
    for (const job of [...backlog]) {
      workerClient(config.WORKER_URL, job.runId, job.token)
        .heartbeat()
        .catch((error) => {
          if (!(error instanceof RunGone)) return log.warn(`run_${job.runId}: backlog heartbeat failed: ${(error as Error).message}`);
          const index = backlog.indexOf(job);
          if (index >= 0) backlog.splice(index, 1);
        });
    }
  }, config.HEARTBEAT_INTERVAL_MS);

  const accept = (job: DispatchMessage): boolean => {
    if (draining || (cases >= config.EXECUTOR_CONCURRENCY && backlog.length >= config.EXECUTOR_BACKLOG)) return false;
    backlog.push(job);
    pump();
    return true;
  };

  const github =
    config.GITHUB_APP_ID && config.GITHUB_PRIVATE_KEY
      ? createGitHubApp({ appId: config.GITHUB_APP_ID, privateKey: config.GITHUB_PRIVATE_KEY, apiUrl: config.GITHUB_API_URL })
      : undefined;

  const expectedAuth = Buffer.from(`Bearer ${config.EXECUTOR_SHARED_SECRET}`);
  const authorized = (req: IncomingMessage) => {
    const auth = Buffer.from(req.headers.authorization ?? "");
    return auth.length === expectedAuth.length && timingSafeEqual(auth, expectedAuth);
  };
  const server: Server = createServer(async (req, res) => {
    if (req.method === "GET" && req.url === "/healthz") {
      // Without the secret, only whether it is up: counts and the pid are for the Worker and the operators.
      if (!authorized(req)) return json(res, draining ? 503 : 200, { ok: !draining });
      return json(res, draining ? 503 : 200, {
        ok: !draining,
        pid: process.pid,
        capacity: config.EXECUTOR_CONCURRENCY,
        running: cases,
        backlog: backlog.length,
        ...stats,
      });
    }
    if (!authorized(req)) return json(res, 401, { error: "bad executor secret" });
    if (req.method === "POST" && req.url === "/http-checks") {
      // The Worker's queue consumer waits for the answer; the check itself runs under the egress policy here.
      const check = httpCheckPayloadSchema.safeParse(await readJson(req));
      if (!check.success) return json(res, 422, { error: "invalid http-check", issues: check.error.issues });
      return json(res, 200, await runHttpCheck(check.data, egress));
    }
    if (req.method === "POST" && req.url === "/github/check-runs") {
      // The Worker's batch object sends one at a time per suite run: this only talks to GitHub.
      if (!github) return json(res, 503, { error: "check runs are off: GITHUB_APP_ID and GITHUB_PRIVATE_KEY are not set" });
      const sync = checkRunSyncSchema.safeParse(await readJson(req));
      if (!sync.success) return json(res, 422, { error: "invalid check run", issues: sync.error.issues });
      try {
        return json(res, 200, await github.syncCheckRun(sync.data));
      } catch (error) {
        log.warn(`check run for ${sync.data.externalId}: ${(error as Error).message}`);
        return json(res, error instanceof GitHubError && error.status >= 400 && error.status < 500 ? 422 : 502, { error: (error as Error).message });
      }
    }
    if (req.method === "POST" && req.url === "/jobs") {
      const job = dispatchMessageSchema.safeParse(await readJson(req));
      if (!job.success) return json(res, 422, { error: "invalid job", issues: job.error.issues });
      if (job.data.task !== "browser-case") return json(res, 422, { error: `this executor runs browser cases, not ${job.data.task}` });
      if (!accept(job.data)) {
        stats.refused += 1;
        return json(res, 503, { error: draining ? "shutting down" : "backlog full" });
      }
      stats.accepted += 1;
      return json(res, 202, { accepted: job.data.runId });
    }
    return json(res, 404, { error: "not found" });
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.PORT, config.HOST, resolve);
  });
  const { port } = server.address() as AddressInfo;
  const host = config.HOST === "0.0.0.0" ? "127.0.0.1" : config.HOST;

  return {
    url: `http://${host}:${port}`,
    warm: async () => void (await sharedBrowser()),
    close: async () => {
      draining = true;
      clearInterval(backlogBeat);
      const unstarted = backlog.splice(0);
      await Promise.all(
        unstarted.map((job) =>
          workerClient(config.WORKER_URL, job.runId, job.token)
            .release()
            .catch((error) => log.warn(`run_${job.runId}: not released (${(error as Error).message}); the sweep will dispatch it again`)),
        ),
      );
      const grace = setTimeout(() => stop.abort(new ShuttingDown("executor shutting down")), config.SHUTDOWN_GRACE_MS);
      await Promise.all(jobs);
      clearTimeout(grace);
      const closed = new Promise((resolve) => server.close(resolve));
      server.closeIdleConnections();
      await closed;
      await (await browser?.catch(() => undefined))?.close();
    },
  };
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) return undefined;
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    return undefined;
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
}
