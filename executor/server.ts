/**
 * The executor's HTTP face. The queue consumer hands it one dispatch message per run (POST /jobs); 202 means
 * "accepted": the job runs now or waits in a bounded backlog. A full backlog answers 503 and the queue
 * retries later with backoff. Jobs run with bounded concurrency on one shared browser.
 */
import { timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { type DispatchMessage, dispatchMessageSchema } from "../schema/contracts.ts";
import { type SharedBrowser, launchSharedBrowser } from "./browser.ts";
import type { ExecutorConfig } from "./config.ts";
import { ShuttingDown, runJob } from "./run-job.ts";
import { workerClient } from "./worker-client.ts";

const MAX_BODY_BYTES = 64 * 1024;

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
  const sharedBrowser = () => (browser ??= launchSharedBrowser({ loopbackOnly: config.BROWSER_LOOPBACK_ONLY, logger: log }));
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

  const accept = (job: DispatchMessage): boolean => {
    if (draining || (cases >= config.EXECUTOR_CONCURRENCY && backlog.length >= config.EXECUTOR_BACKLOG)) return false;
    backlog.push(job);
    pump();
    return true;
  };

  const expectedAuth = Buffer.from(`Bearer ${config.EXECUTOR_SHARED_SECRET}`);
  const server: Server = createServer(async (req, res) => {
    if (req.method === "GET" && req.url === "/healthz") {
      return json(res, draining ? 503 : 200, {
        ok: !draining,
        pid: process.pid,
        capacity: config.EXECUTOR_CONCURRENCY,
        running: cases,
        backlog: backlog.length,
        ...stats,
      });
    }
    if (req.method === "POST" && req.url === "/jobs") {
      const auth = Buffer.from(req.headers.authorization ?? "");
      if (auth.length !== expectedAuth.length || !timingSafeEqual(auth, expectedAuth)) {
        return json(res, 401, { error: "bad executor secret" });
      }
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
