/**
 * The executor's side of a run (DESIGN §2.4): claim, heartbeat, events, tokens and waits, complete. Every call carries the
 * run-scoped token from the dispatch message, which opens this one run and nothing else.
 */
import { Hono } from "hono";
import { createMiddleware } from "hono/factory";
import * as z from "zod";
import { ProblemError, notFound } from "../problem.ts";
import { createTokenBodySchema, waitBodySchema } from "../../schema/api.ts";
import { verifyToken } from "../runs/tokens.ts";
import { createToken, presentWaitpoint } from "../runs/waitpoints.ts";
import { parseFriendlyId, toFriendlyId } from "../store/ids.ts";
import type { Run } from "../store/run-store.ts";
import { unauthorized } from "./auth.ts";
import type { AppEnv } from "./context.ts";
import { limitBody, validate } from "./validate.ts";
import { presentCreatedToken } from "./waitpoints.ts";

type InternalEnv = AppEnv & { Variables: { run: Run } };

const requireRunToken = createMiddleware<InternalEnv>(async (c, next) => {
  const { id } = parseFriendlyId("run", c.req.param("runId") ?? "");
  const token = /^Bearer (\S{1,2000})$/.exec(c.req.header("authorization") ?? "")?.[1];
  const claims = token ? await verifyToken(c.var.config.SIGNING_SECRET, token, "executor") : undefined;
  if (claims?.sub !== toFriendlyId("run", id)) return unauthorized("Send this run's executor token");
  const run = await c.var.engine.deps.runs.findRun(claims.env, id, { fresh: true });
  if (!run) throw notFound("Run");
  c.set("run", run);
  await next();
});

const conflict = (detail: string) => new ProblemError({ status: 409, title: "Conflict", detail });

const eventsSchema = z.strictObject({
  events: z
    .array(z.strictObject({ type: z.enum(["step", "log"]), data: z.record(z.string(), z.unknown()) }))
    .min(1)
    .max(100),
});

const completeSchema = z.strictObject({
  status: z.enum(["COMPLETED", "FAILED"]),
  output: z.unknown().optional(),
  error: z.looseObject({ message: z.string().max(10_000) }).optional(),
  /** A failure worth another attempt (navigation error, crash), as opposed to an assertion. */
  retryable: z.boolean().default(false),
});

const runView = (run: Run) => ({
  id: toFriendlyId("run", run.id),
  task: run.task,
  status: run.status,
  payload: run.payload,
  attempt: run.attempt,
  maxAttempts: run.maxAttempts,
});

export const internal = new Hono<InternalEnv>()
  .use("/runs/:runId/*", limitBody(1024 * 1024), requireRunToken)
  .post("/runs/:runId/claim", validate("json", z.strictObject({ attempt: z.int().min(1) })), async (c) => {
    const claimed = await c.var.engine.claim(c.var.run, c.req.valid("json").attempt);
    if (!claimed) throw conflict(`Attempt ${c.req.valid("json").attempt} cannot be claimed: the run is ${c.var.run.status} at attempt ${c.var.run.attempt}`);
    return c.json(runView(claimed));
  })
  .post("/runs/:runId/heartbeat", async (c) => {
    // A 409 tells the executor to stop: the run was canceled or taken over.
    if (!(await c.var.engine.heartbeat(c.var.run))) throw conflict(`The run is ${c.var.run.status}`);
    return c.body(null, 204);
  })
  .post("/runs/:runId/events", validate("json", eventsSchema), async (c) => {
    const object = c.env.RUN_DO.getByName(toFriendlyId("run", c.var.run.id));
    for (const event of c.req.valid("json").events) await object.append(event.type, event.data);
    return c.body(null, 204);
  })
  .post("/runs/:runId/tokens", validate("json", createTokenBodySchema), async (c) => {
    const created = await createToken(c.var.engine.deps, c.var.run, c.req.valid("json"));
    return c.json(await presentCreatedToken(c, created), created.isCached ? 200 : 201);
  })
  .post("/runs/:runId/wait", validate("json", waitBodySchema), async (c) => {
    const { tokens, until, runs, batch } = c.req.valid("json");
    const internalId = (kind: "waitpoint" | "run" | "batch") => (friendlyId: string) => parseFriendlyId(kind, friendlyId).id;
    const waited = await c.var.engine.wait(c.var.run, {
      tokens: tokens?.map(internalId("waitpoint")),
      until,
      runs: runs?.map(internalId("run")),
      batch: batch && internalId("batch")(batch),
    });
    return c.json({ status: waited.run.status, seq: waited.seq ?? null, waitpoints: waited.waitpoints.map(presentWaitpoint) });
  })
  .post("/runs/:runId/complete", validate("json", completeSchema), async (c) => {
    const { run } = c.var;
    if (run.status !== "EXECUTING" && run.status !== "WAITING") throw conflict(`The run is ${run.status}`);
    const after = await c.var.engine.complete(run, c.req.valid("json"));
    return c.json(runView(after ?? run));
  });
