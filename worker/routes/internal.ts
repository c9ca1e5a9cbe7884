/**
 * The executor's side of a run (DESIGN §2.4): claim, heartbeat, events, tokens and waits, artifacts,
 * complete, and release (a job given back unstarted). Every call carries the
 * attempt-scoped token from the dispatch message, which opens this one run and nothing else, and only
 * while its attempt is the run's current one.
 */
import { Hono } from "hono/tiny";
import { createMiddleware } from "hono/factory";
import * as z from "../../schema/zod.ts";
import { ProblemError, notFound } from "../problem.ts";
import { createTokenBodySchema, waitBodySchema } from "../../schema/api.ts";
import { type ClaimedRun, MAX_ARTIFACTS_PER_ATTEMPT, runCompletionSchema } from "../../schema/contracts.ts";
import { runEventsSchema } from "../../schema/live.ts";
import { specRunsBodySchema } from "../../schema/spec-suites.ts";
import {
  ARTIFACT_NAME,
  artifactKey,
  artifactUrl,
  belongsTo,
  contentTypeOf,
  hasRoomFor,
  maxBytesOf,
} from "../runs/artifacts.ts";
import { HELD, holdsAttempt } from "../runs/execute.ts";
import { verifyToken } from "../runs/tokens.ts";
import { presentWaitpoint } from "../runs/waitpoints.ts";
import { parseFriendlyId, toFriendlyId } from "../store/ids.ts";
import type { Run } from "../store/run-store.ts";
import { unauthorized } from "./auth.ts";
import type { AppEnv } from "./context.ts";
import { limitBody, validate } from "./validate.ts";
import { presentCreatedToken } from "./waitpoints.ts";

type InternalEnv = AppEnv & { Variables: { runId: string; environmentId: string; attempt: number; run: Run } };

/** The token alone proves which run (and environment) the caller holds, and for which attempt. */
const requireRunToken = createMiddleware<InternalEnv>(async (c, next) => {
  const { id } = parseFriendlyId("run", c.req.param("runId") ?? "");
  const token = /^Bearer (\S{1,2000})$/.exec(c.req.header("authorization") ?? "")?.[1];
  const claims = token ? await verifyToken(c.var.config.SIGNING_SECRET, token, "executor") : undefined;
  const attempt = claims?.attempt;
  if (
    claims?.sub !== toFriendlyId("run", id) ||
    typeof attempt !== "number" ||
    !Number.isSafeInteger(attempt) ||
    attempt < 1
  ) {
    return unauthorized("Send this run's executor token");
  }
  c.set("runId", id);
  c.set("environmentId", claims.env);
  c.set("attempt", attempt);
  await next();
});

const conflict = (detail: string) => new ProblemError({ status: 409, title: "Conflict", detail });

/** The run as it stands, for routes that act on its state. */
const withRun = createMiddleware<InternalEnv>(async (c, next) => {
  const run = await c.var.stores.runs.findRun(c.var.environmentId, c.var.runId, { fresh: true });
  if (!run) throw notFound("Run");
  c.set("run", run);
  await next();
});

/**
 * Goes on only while the token's attempt holds the run (DESIGN §11, attempts are fenced): an executor that
 * comes back after a later attempt was claimed is told to stop (409), and its calls change nothing.
 */
const fenced = createMiddleware<InternalEnv>(async (c, next) => {
  const { run, attempt } = c.var;
  if (!holdsAttempt(run, attempt)) {
    throw conflict(`Attempt ${attempt} no longer holds the run: it is ${run.status} at attempt ${run.attempt}`);
  }
  await next();
});

const MAX_BODY_BYTES = 1024 * 1024;

/** An artifact's body is capped by its kind (a trace or video may be larger than a screenshot), before it is read. */
const limitArtifact = createMiddleware<InternalEnv>((c, next) =>
  limitBody(maxBytesOf(c.req.param("name") ?? ""))(c, next),
);

const runView = (run: Run): ClaimedRun => ({
  id: toFriendlyId("run", run.id),
  task: run.task,
  status: run.status,
  payload: run.payload,
  attempt: run.attempt,
  maxAttempts: run.maxAttempts,
});

const claimBodySchema = z.strictObject({ attempt: z.int().check(z.minimum(1)) });

export const internal = new Hono<InternalEnv>()
  .use("/runs/:runId/*", requireRunToken)
  .post("/runs/:runId/claim", limitBody(MAX_BODY_BYTES), withRun, validate("json", claimBodySchema), async (c) => {
    const { attempt } = c.req.valid("json");
    const claimed = attempt === c.var.attempt ? await c.var.engine.claim(c.var.run, attempt) : undefined;
    const { status, attempt: current } = c.var.run;
    const detail = `Attempt ${attempt} cannot be claimed (token of attempt ${c.var.attempt})`;
    if (!claimed) throw conflict(`${detail}: the run is ${status} at attempt ${current}`);
    return c.json(runView(claimed));
  })
  .post("/runs/:runId/heartbeat", withRun, fenced, async (c) => {
    // Also for a job still in the executor's backlog. A 409 tells the executor to let the run go: it was
    // canceled or taken over.
    if (!(await c.var.engine.heartbeat(c.var.run, c.var.attempt))) throw conflict(`The run is ${c.var.run.status}`);
    return c.body(null, 204);
  })
  .post(
    "/runs/:runId/events",
    limitBody(MAX_BODY_BYTES),
    validate("json", runEventsSchema),
    withRun,
    fenced,
    async (c) => {
      await c.env.RUN_DO.getByName(toFriendlyId("run", c.var.runId)).appendAll(c.req.valid("json").events);
      return c.body(null, 204);
    },
  )
  .post(
    "/runs/:runId/tokens",
    limitBody(MAX_BODY_BYTES),
    withRun,
    fenced,
    validate("json", createTokenBodySchema),
    async (c) => {
      const created = await c.var.engine.createToken(c.var.run, c.req.valid("json"));
      return c.json(await presentCreatedToken(c, created), created.isCached ? 200 : 201);
    },
  )
  .post(
    "/runs/:runId/wait",
    limitBody(MAX_BODY_BYTES),
    withRun,
    fenced,
    validate("json", waitBodySchema),
    async (c) => {
      const { tokens, until, runs, batch } = c.req.valid("json");
      const internalId = (kind: "waitpoint" | "run" | "batch") => (friendlyId: string) =>
        parseFriendlyId(kind, friendlyId).id;
      const waited = await c.var.engine.wait(c.var.run, {
        tokens: tokens?.map(internalId("waitpoint")),
        until,
        runs: runs?.map(internalId("run")),
        batch: batch && internalId("batch")(batch),
      });
      return c.json({
        status: waited.run.status,
        seq: waited.seq ?? null,
        waitpoints: waited.waitpoints.map(presentWaitpoint),
      });
    },
  )
  .put("/runs/:runId/artifacts/:name", limitArtifact, withRun, fenced, async (c) => {
    const { run } = c.var;
    const name = c.req.param("name");
    if (!ARTIFACT_NAME.test(name))
      throw new ProblemError({
        status: 422,
        title: "Invalid artifact name",
        detail: `"${name.slice(0, 100)}" is not a file name`,
      });
    if (!HELD.includes(run.status)) throw conflict(`The run is ${run.status}`);
    // Under the token's attempt: a superseded attempt can never write over a later one's files.
    const key = artifactKey(run.id, c.var.attempt, name);
    if (!(await hasRoomFor(c.env.ARTIFACTS, key))) {
      throw new ProblemError({
        status: 422,
        title: "Too many artifacts",
        detail: `An attempt keeps at most ${MAX_ARTIFACTS_PER_ATTEMPT}`,
      });
    }
    await c.env.ARTIFACTS.put(key, await c.req.arrayBuffer(), { httpMetadata: { contentType: contentTypeOf(name) } });
    return c.json({ key, url: artifactUrl(key) }, 201);
  })
  .post(
    "/runs/:runId/complete",
    limitBody(MAX_BODY_BYTES),
    withRun,
    fenced,
    validate("json", runCompletionSchema),
    async (c) => {
      const { run } = c.var;
      if (!HELD.includes(run.status)) throw conflict(`The run is ${run.status}`);
      const reported = c.req.valid("json");
      // A repository suite's runs: scrubbed of its secrets once more, a test's given its flake count.
      const completion = run.task.startsWith("spec-")
        ? await (await import("../runs/run-secrets.ts")).settleSpecCompletion(
            c.var.stores,
            c.var.config.SIGNING_SECRET,
            run,
            reported,
          )
        : reported;
      if (completion.steps.some((step) => step.screenshotKey && !belongsTo(step.screenshotKey, run, c.var.attempt))) {
        const detail = "A screenshot key names another run's or attempt's artifact";
        throw new ProblemError({ status: 422, title: "Invalid step report", detail });
      }
      const after = await c.var.engine.complete(run, completion);
      if (!after) throw conflict(`The run moved on from attempt ${c.var.attempt} while its result was reported`);
      return c.json(runView(after));
    },
  )
  .post(
    "/runs/:runId/spec-runs",
    limitBody(MAX_BODY_BYTES),
    withRun,
    fenced,
    validate("json", specRunsBodySchema),
    async (c) => {
      // A repository suite's setup run, once Playwright listed the tests: one run per test, each with its token.
      if (!HELD.includes(c.var.run.status)) throw conflict(`The run is ${c.var.run.status}`);
      const recorded = await c.var.engine.recordSpecRuns(c.var.run, c.req.valid("json").tests);
      return c.json(
        {
          runs: recorded.map(({ run, token }) => ({
            id: toFriendlyId("run", run.id),
            testId: (run.payload as { testId: string }).testId,
            token,
          })),
        },
        201,
      );
    },
  )
  .get("/runs/:runId/secrets", withRun, fenced, async (c) => {
    // Only the claimed attempt of a setup run gets the values, and never one for a fork's pull request.
    if (c.var.run.status !== "EXECUTING") throw conflict(`The run is ${c.var.run.status}`);
    const { secretsOfSetupRun } = await import("../runs/run-secrets.ts");
    c.header("cache-control", "no-store");
    return c.json(await secretsOfSetupRun(c.var.stores, c.var.config.SIGNING_SECRET, c.var.run));
  })
  .post("/runs/:runId/release", withRun, fenced, async (c) => {
    // An executor shutting down gives back a job it accepted but never started: it is dispatched again.
    if (!(await c.var.engine.release(c.var.run)))
      throw conflict(`The run is ${c.var.run.status}, not waiting for an executor`);
    return c.body(null, 204);
  });
