/** The Hono app: one router per concern, mounted here; every API error leaves as problem+json (pages answer HTML). */
import { Hono } from "hono/tiny";
import { createMiddleware } from "hono/factory";
import { HTTPException } from "hono/http-exception";
import { ConfigError } from "../schema/settings.ts";
import { loadConfig } from "./config.ts";
import { ProblemError, problemResponse } from "./problem.ts";
import { pages } from "./pages/routes.ts";
import { openEngine } from "./runs/engine.ts";
import { requireApiKey } from "./routes/auth.ts";
import { batches } from "./routes/batches.ts";
import type { AppEnv } from "./routes/context.ts";
import { health } from "./routes/health.ts";
import { internal } from "./routes/internal.ts";
import { subscribe } from "./routes/live.ts";
import { runs } from "./routes/runs.ts";
import { limitBody } from "./routes/validate.ts";
import { suites } from "./routes/suites.ts";
import { waitpointCallbacks, waitpoints } from "./routes/waitpoints.ts";
import { ConflictError, InvalidIdError, StoreUnavailableError } from "./store/errors.ts";

/**
 * The stores live for one request: opened here (no connection until the first query), closed once the response
 * (and its waitUntil work) is done. Auth warms them once the key looks genuine, so refusals never connect.
 */
const withRequestEngine = createMiddleware<AppEnv>(async (c, next) => {
  const { engine, stores, close, warm } = openEngine(c.env);
  c.set("engine", engine);
  c.set("stores", stores);
  c.set("warmStores", warm);
  try {
    await next();
  } finally {
    c.executionCtx.waitUntil(close());
  }
});

/** GitHub sends at most 25 MB; the events we act on are far smaller. */
const WEBHOOK_MAX_BYTES = 5 * 1024 * 1024;

const api = new Hono<AppEnv>()
  .use(withRequestEngine, requireApiKey)
  .route("/", runs)
  .route("/", batches)
  .route("/", waitpoints)
  .route("/", suites)
  .get("/github/install", async (c) => (await import("./github/setup.ts")).handleInstallLink(c));
/** Live subscriptions authenticate themselves (a browser holds a publicAccessToken, not a secret key). */
const subscriptions = new Hono<AppEnv>()
  .get("/runs/:runId/live", withRequestEngine, subscribe("run"))
  .get("/batches/:batchId/live", withRequestEngine, subscribe("batch"))
  .use("/waitpoints/tokens/:waitpointId/callback/*", withRequestEngine)
  .route("/", waitpointCallbacks);

export const app = new Hono<AppEnv>()
  .use(async (c, next) => {
    c.set("config", loadConfig(c.env));
    await next();
  })
  .route("/", health)
  // Benchmarks only: without BENCH_ROUTES the path is as unknown as any other.
  .post("/bench/floor", async (c, next) =>
    c.var.config.BENCH_ROUTES ? (await import("./bench-floor.ts")).insertFloorRow(c) : next(),
  )
  .post("/webhooks/github", limitBody(WEBHOOK_MAX_BYTES), withRequestEngine, async (c) =>
    (await import("./github/webhooks.ts")).handleWebhook(c),
  )
  // The GitHub App's setup URL: the installing person's browser, sent back by GitHub.
  .get("/github/setup", withRequestEngine, async (c) => (await import("./github/setup.ts")).handleSetup(c))
  // Run pages: a person's browser with a page link, no API key; HTML in, HTML out.
  .route("/runs", new Hono<AppEnv>().use(withRequestEngine).route("/", pages))
  .route("/api/v1", subscriptions)
  .route("/api/v1", api)
  .route("/internal", new Hono<AppEnv>().use(withRequestEngine).route("/", internal));

app.notFound((c) =>
  problemResponse({ status: 404, title: "Not found", detail: `No route for ${c.req.method} ${c.req.path}` }),
);

app.onError((error, c) => {
  if (error instanceof ProblemError) return problemResponse(error.problem);
  if (error instanceof HTTPException)
    return problemResponse({ status: error.status, title: error.message || "Request rejected" });
  if (error instanceof InvalidIdError)
    return problemResponse({ status: 400, title: "Invalid id", detail: error.message });
  if (error instanceof ConflictError) return problemResponse({ status: 409, title: "Conflict", detail: error.message });
  if (error instanceof StoreUnavailableError) {
    // The driver's words (hosts, SQL, parameters) go to the log, never to the client.
    console.error(`${c.req.method} ${c.req.path}: ${error.message}`);
    const detail = `The ${error.store} store is unavailable; try again shortly`;
    const problem = { status: 503, title: "Store unavailable", detail, store: error.store };
    return problemResponse(problem, { "retry-after": "1" });
  }
  if (error instanceof ConfigError) {
    console.error(error.message);
    return problemResponse({ status: 500, title: "Server misconfigured", detail: error.message });
  }
  console.error(`${c.req.method} ${c.req.path} failed`, error);
  return problemResponse({ status: 500, title: "Internal error" });
});
