/**
 * The executor's HTTP face, for the Worker only (every route but a bare /healthz needs the shared secret):
 * POST /jobs hands over one dispatch message per run (202: it runs now or waits in the job pool's backlog;
 * 503: the queue retries later), POST /http-checks runs a check under the egress policy, and POST
 * /github/check-runs posts a suite run's check run. Errors are problem+json, as the Worker's are.
 */
import { timingSafeEqual } from "node:crypto";
import type { AddressInfo } from "node:net";
import { type ServerType, serve } from "@hono/node-server";
import { Hono, type Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { dispatchMessageSchema } from "../schema/contracts.ts";
import { checkRunSyncSchema } from "../schema/github.ts";
import { problemResponse } from "../schema/problem.ts";
import { httpCheckPayloadSchema } from "../schema/tasks.ts";
import type { ExecutorConfig } from "./config.ts";
import type { EgressPolicy } from "./egress.ts";
import { type GitHubApp, GitHubError, createGitHubApp } from "./github.ts";
import { runHttpCheck } from "./http-check.ts";
import { type JobPool, createJobPool } from "./job-pool.ts";

/** A check run's state carries up to 500 cases with their failure messages. */
const MAX_BODY_BYTES = 8 * 1024 * 1024;

type Log = Pick<Console, "info" | "warn" | "error">;

export interface ExecutorServer {
  url: string;
  /** Launches the browser now rather than with the first job (and logs its version). */
  warm(): Promise<void>;
  /** SIGTERM: the job pool drains (see JobPool.close), then the server closes. */
  close(): Promise<void>;
}

interface Parts {
  secret: string;
  pool: JobPool;
  egress: EgressPolicy;
  github: GitHubApp | undefined;
  log: Log;
}

/** What a zod schema (classic or mini) offers to check a body. */
interface BodySchema<T> {
  safeParse(input: unknown): { success: true; data: T } | { success: false; error: { issues: unknown[] } };
}

/** The request's JSON body checked by `schema`, or the 422 that says why not. */
async function parseBody<T>(
  c: Context,
  schema: BodySchema<T>,
  what: string,
): Promise<{ data: T } | { problem: Response }> {
  const parsed = schema.safeParse(await c.req.json().catch(() => undefined));
  if (parsed.success) return { data: parsed.data };
  return { problem: problemResponse({ status: 422, title: `Invalid ${what}`, errors: parsed.error.issues }) };
}

export function executorApp({ secret, pool, egress, github, log }: Parts) {
  const expected = Buffer.from(`Bearer ${secret}`);
  const authorized = (header: string | undefined) => {
    const given = Buffer.from(header ?? "");
    return given.length === expected.length && timingSafeEqual(given, expected);
  };

  return new Hono()
    .get("/healthz", (c) => {
      const status = pool.draining ? 503 : 200;
      // Without the secret, only whether it is up: counts and the pid are for the Worker and the operators.
      if (!authorized(c.req.header("authorization"))) return c.json({ ok: !pool.draining }, status);
      return c.json({ ok: !pool.draining, pid: process.pid, ...pool.stats() }, status);
    })
    .use(async (c, next) => {
      if (authorized(c.req.header("authorization"))) return next();
      return problemResponse({ status: 401, title: "Unauthorized", detail: "bad executor secret" });
    })
    .use(
      bodyLimit({
        maxSize: MAX_BODY_BYTES,
        onError: () => {
          const detail = `bodies are at most ${MAX_BODY_BYTES} bytes`;
          return problemResponse({ status: 413, title: "Too large", detail });
        },
      }),
    )
    .post("/jobs", async (c) => {
      const job = await parseBody(c, dispatchMessageSchema, "job");
      if ("problem" in job) return job.problem;
      if (job.data.task === "http-check") {
        const detail = `this executor runs browser cases and repository suites, not ${job.data.task}`;
        return problemResponse({ status: 422, title: "Invalid job", detail });
      }
      const intake = pool.offer(job.data);
      if (intake !== "accepted") return problemResponse({ status: 503, title: "Unavailable", detail: intake });
      return c.json({ accepted: job.data.runId }, 202);
    })
    .post("/http-checks", async (c) => {
      // The Worker's queue consumer waits for the answer; the check itself runs under the egress policy here.
      const check = await parseBody(c, httpCheckPayloadSchema, "http-check");
      if ("problem" in check) return check.problem;
      return c.json(await runHttpCheck(check.data, egress));
    })
    .post("/github/check-runs", async (c) => {
      // The Worker's batch object sends one at a time per suite run: this only talks to GitHub.
      if (!github) {
        const detail = "check runs are off: GITHUB_APP_ID and GITHUB_PRIVATE_KEY are not set";
        return problemResponse({ status: 503, title: "Unavailable", detail });
      }
      const sync = await parseBody(c, checkRunSyncSchema, "check run");
      if ("problem" in sync) return sync.problem;
      try {
        return c.json(await github.syncCheckRun(sync.data));
      } catch (error) {
        const detail = (error as Error).message;
        log.warn(`check run for ${sync.data.externalId}: ${detail}`);
        const refused = error instanceof GitHubError && error.status >= 400 && error.status < 500;
        return problemResponse({ status: refused ? 422 : 502, title: "GitHub refused the check run", detail });
      }
    })
    .notFound(() => problemResponse({ status: 404, title: "Not found" }))
    .onError((error) => {
      log.error(`executor: ${error.message}`);
      return problemResponse({ status: 500, title: "Internal error" });
    });
}

export async function startExecutorServer(config: ExecutorConfig, log: Log = console): Promise<ExecutorServer> {
  const egress: EgressPolicy = { allowPrivate: config.ALLOW_PRIVATE_TARGETS };
  const { GITHUB_APP_ID: appId, GITHUB_PRIVATE_KEY: privateKey, GITHUB_API_URL: apiUrl } = config;
  const github = appId && privateKey ? createGitHubApp({ appId, privateKey, apiUrl }) : undefined;
  // Repository suites read the repository with the App's installation token: without the App they cannot run.
  const specs =
    config.RUN_REPOSITORY_CODE && github
      ? {
          tarball: github.tarball,
          egress,
          loopbackOnly: config.BROWSER_LOOPBACK_ONLY,
          cacheDir: config.SPEC_CACHE_DIR,
          installTimeoutMs: config.SPEC_INSTALL_TIMEOUT_MS,
          installMaxBytes: config.SPEC_INSTALL_MAX_BYTES,
        }
      : undefined;
  const pool = createJobPool(config, { loopbackOnly: config.BROWSER_LOOPBACK_ONLY, egress, logger: log }, log, specs);
  const app = executorApp({ secret: config.EXECUTOR_SHARED_SECRET, pool, egress, github, log });

  const server = await new Promise<ServerType>((resolve, reject) => {
    const listening: ServerType = serve({ fetch: app.fetch, port: config.PORT, hostname: config.HOST }, () =>
      resolve(listening),
    );
    listening.once("error", reject);
  });
  const { port } = server.address() as AddressInfo;
  const host = config.HOST === "0.0.0.0" ? "127.0.0.1" : config.HOST;

  return {
    url: `http://${host}:${port}`,
    warm: () => pool.warm(),
    close: async () => {
      await pool.close();
      const closed = new Promise((resolve) => server.close(resolve));
      if ("closeIdleConnections" in server) server.closeIdleConnections();
      await closed;
    },
  };
}
