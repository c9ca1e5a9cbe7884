/**
 * The run pages, what "Details" on a check run opens: `/runs/batch_…` (a suite run), `/runs/run_…` (one
 * run) and the screenshots they show. The page token in `?token=` is the only credential: it opens its
 * subject, and a suite run's token also opens that suite run's cases and their screenshots. Every failure
 * answers an HTML page that says what to do and nothing about the run asked for.
 */
import type { Context } from "hono";
import { Hono } from "hono/tiny";
import type { RunEvent } from "../../schema/live.ts";
import type { AppEnv } from "../routes/context.ts";
import { contentTypeOf, findArtifact, listRecordings } from "../runs/artifacts.ts";
import { summarizeCases } from "../runs/case-summary.ts";
import { type TokenClaims, mintPageToken, verifyToken } from "../runs/tokens.ts";
import { isFinal } from "../../schema/run-states.ts";
import { InvalidIdError, StoreUnavailableError } from "../store/errors.ts";
import { parseFriendlyId, toFriendlyId } from "../store/ids.ts";
import type { Run } from "../store/run-store.ts";
import { batchPage } from "./batch-page.ts";
import { type ErrorStatus, errorPage, htmlPage } from "./document.ts";
import { type RunPageData, currentAttemptSteps, runPage } from "./run-page.ts";

class PageError extends Error {
  readonly status: ErrorStatus;

  constructor(status: ErrorStatus) {
    super(`run page: HTTP ${status}`);
    this.status = status;
  }
}

type PageContext = Context<AppEnv>;

async function pageClaims(c: PageContext): Promise<{ claims: TokenClaims; token: string }> {
  const token = c.req.query("token");
  const claims = token ? await verifyToken(c.var.config.SIGNING_SECRET, token, "page") : undefined;
  if (!token || !claims) throw new PageError(401);
  return { claims, token };
}

/** The run, if the token opens it (its own, or its suite run's); another's run is not found. */
async function openRun(c: PageContext, claims: TokenClaims, runId: string): Promise<Run> {
  // Fresh: a page refreshed on a live event must see the write that event announced.
  const run = await c.var.stores.runs.findRun(claims.env, runId, { fresh: true });
  if (
    run &&
    (claims.sub === toFriendlyId("run", run.id) || (run.batchId && claims.sub === toFriendlyId("batch", run.batchId)))
  )
    return run;
  throw new PageError(404);
}

const expiryOf = (claims: TokenClaims) => new Date(claims.exp * 1_000);

async function showBatch(c: PageContext, friendlyId: string, batchId: string): Promise<Response> {
  const { claims, token } = await pageClaims(c);
  if (claims.sub !== friendlyId) throw new PageError(404);
  const { runs, suites } = c.var.stores;
  const found = await runs.findBatch(claims.env, batchId, { fresh: true });
  if (!found) throw new PageError(404);
  const { suiteId } = found.batch;
  const [cases, suite] = await Promise.all([
    summarizeCases(runs, found.runs),
    suiteId ? suites.find(claims.env, suiteId) : undefined,
  ]);
  return htmlPage(
    batchPage({ friendlyId, batch: found.batch, suiteName: suite?.name, cases, token, expiresAt: expiryOf(claims) }),
  );
}

async function showRun(c: PageContext, friendlyId: string, runId: string): Promise<Response> {
  const { claims, token } = await pageClaims(c);
  const { runs } = c.var.stores;
  let run = await openRun(c, claims, runId);
  let events: RunEvent[] = [];
  if (!isFinal(run.status)) {
    // The live log before the store: whatever happens in between arrives as an event after `since`.
    events = await c.env.RUN_DO.getByName(friendlyId).eventsSince(0);
    run = (await runs.findRun(claims.env, runId, { fresh: true })) ?? run;
  }
  const steps: RunPageData["steps"] = await runs.listSteps(runId);
  const unreported = !steps.some((step) => step.attempt === run.attempt);
  if (events.length && run.attempt > 0 && unreported)
    steps.push(...currentAttemptSteps(events).map((step) => ({ ...step, attempt: run.attempt })));
  const bySuiteRun = claims.sub !== friendlyId;
  // Only a repository suite's test keeps a trace and video, uploaded before it ends.
  const recordings =
    run.task === "spec-test" && isFinal(run.status) ? await listRecordings(c.env.ARTIFACTS, run, run.attempt) : [];
  return htmlPage(
    runPage({
      friendlyId,
      run,
      steps,
      recordings,
      token,
      suiteRunUrl: bySuiteRun ? `/runs/${claims.sub}?token=${token}` : undefined,
      live: isFinal(run.status)
        ? undefined
        : { token: bySuiteRun ? await liveToken(c, claims, friendlyId) : token, since: events.at(-1)?.seq ?? 0 },
      expiresAt: expiryOf(claims),
    }),
  );
}

/**
 * A page opened with its suite run's link watches the run's live socket with a token for the run itself,
 * expiring with the link.
 */
const liveToken = (c: PageContext, claims: TokenClaims, runId: string) =>
  mintPageToken(c.var.config.SIGNING_SECRET, claims.env, runId, claims.exp - Math.floor(Date.now() / 1_000));

export const pages = new Hono<AppEnv>()
  .get("/:id", (c) => {
    const id = c.req.param("id");
    if (id.startsWith("batch_")) return showBatch(c, id, parseFriendlyId("batch", id).id);
    return showRun(c, id, parseFriendlyId("run", id).id);
  })
  .get("/:runId/artifacts/:attempt/:name", async (c) => {
    const { id } = parseFriendlyId("run", c.req.param("runId"));
    const { claims } = await pageClaims(c);
    const run = await openRun(c, claims, id);
    const object = await findArtifact(c.env.ARTIFACTS, run, c.req.param("attempt"), c.req.param("name"));
    if (!object) throw new PageError(404);
    return c.body(object.body, 200, {
      "content-type": object.httpMetadata?.contentType ?? contentTypeOf(c.req.param("name")),
      "cache-control": "private, max-age=3600",
      "referrer-policy": "no-referrer",
      "x-content-type-options": "nosniff",
    });
  })
  .all("*", () => errorPage(404));

pages.onError((error, c) => {
  if (error instanceof PageError) return errorPage(error.status);
  if (error instanceof InvalidIdError) return errorPage(400);
  if (error instanceof StoreUnavailableError) return errorPage(503, { "retry-after": "1" });
  console.error(`${c.req.method} ${c.req.path} failed`, error);
  return errorPage(500);
});
