/** Waitpoint tokens: create, retrieve, complete; and the callback URL, which needs no key (DESIGN §4, §8). */
import type { Context } from "hono";
import { Hono } from "hono/tiny";
import { callbackBodySchema, completeTokenBodySchema, createTokenBodySchema } from "../../schema/api.ts";
import { notFound, problemResponse } from "../problem.ts";
import { callbackHash, verifyCallbackHash } from "../runs/tokens.ts";
import { presentWaitpoint } from "../runs/waitpoints.ts";
import { parseFriendlyId, toFriendlyId } from "../store/ids.ts";
import type { Created, Waitpoint } from "../store/run-store.ts";
import type { AppEnv } from "./context.ts";
import { limitBody, validate } from "./validate.ts";

const MAX_BODY_BYTES = 1024 * 1024;

/** A new token's id and its callback URL, which carries an HMAC of the id. */
export async function presentCreatedToken<E extends AppEnv>(c: Context<E>, { record, isCached }: Created<Waitpoint>) {
  const id = toFriendlyId("waitpoint", record.id);
  const base = c.var.config.PUBLIC_URL ?? new URL(c.req.url).origin;
  const url = `${base}/api/v1/waitpoints/tokens/${id}/callback/${await callbackHash(c.var.config.SIGNING_SECRET, id)}`;
  return { id, url, isCached };
}

/** Routes that need the caller's secret key. */
export const waitpoints = new Hono<AppEnv>()
  .post("/waitpoints/tokens", limitBody(MAX_BODY_BYTES), validate("json", createTokenBodySchema), async (c) => {
    const created = await c.var.engine.createToken(c.var.environment, c.req.valid("json"));
    return c.json(await presentCreatedToken(c, created), created.isCached ? 200 : 201);
  })
  .get("/waitpoints/tokens/:waitpointId", async (c) => {
    const { id } = parseFriendlyId("waitpoint", c.req.param("waitpointId"));
    const waitpoint = await c.var.engine.readToken(c.var.environment.environmentId, id);
    if (!waitpoint) throw notFound("Waitpoint");
    return c.json(presentWaitpoint(waitpoint));
  })
  .post(
    "/waitpoints/tokens/:waitpointId/complete",
    limitBody(MAX_BODY_BYTES),
    validate("json", completeTokenBodySchema),
    async (c) => {
      const { id } = parseFriendlyId("waitpoint", c.req.param("waitpointId"));
      const waitpoint = await c.var.engine.completeToken(
        c.var.environment.environmentId,
        id,
        c.req.valid("json").data ?? null,
      );
      if (!waitpoint) throw notFound("Waitpoint");
      return c.json({ success: true });
    },
  );

/** The callback URL: the HMAC in the path is the credential; the whole JSON body becomes the output. */
export const waitpointCallbacks = new Hono<AppEnv>().post(
  "/waitpoints/tokens/:waitpointId/callback/:hash",
  limitBody(MAX_BODY_BYTES),
  validate("json", callbackBodySchema),
  async (c) => {
    const friendlyId = c.req.param("waitpointId");
    const { id } = parseFriendlyId("waitpoint", friendlyId);
    if (!(await verifyCallbackHash(c.var.config.SIGNING_SECRET, friendlyId, c.req.param("hash")))) {
      return problemResponse({ status: 401, title: "Unauthorized", detail: "This callback URL is not valid" });
    }
    const waitpoint = await c.var.stores.runs.loadWaitpoint(id);
    if (!waitpoint) throw notFound("Waitpoint");
    const completed = await c.var.engine.completeToken(waitpoint.environmentId, id, c.req.valid("json") ?? null);
    if (!completed) throw notFound("Waitpoint");
    return c.json({ success: true });
  },
);
