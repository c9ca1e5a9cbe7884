/**
 * Live status over a WebSocket (DESIGN §5), served by the subject's Durable Object (a run's RunDO, a batch's
 * BatchDO) with the hibernation API. Browsers authenticate with the publicAccessToken returned at trigger
 * (`?token=`) or a run page's own link token; API clients may use their secret key; the executor holding a run,
 * that run's executor token. `?since=N` replays the events after sequence number N.
 */
import type { Context } from "hono";
import * as z from "../../schema/zod.ts";
import type { Audience } from "../../schema/live.ts";
import { liveObjects } from "../durable/objects.ts";
import { notFound, problemResponse } from "../problem.ts";
import { verifyToken } from "../runs/tokens.ts";
import { type IdKind, parseFriendlyId } from "../store/ids.ts";
import { environmentFromKey, unauthorized } from "./auth.ts";
import type { AppEnv } from "./context.ts";

const liveQuerySchema = z.strictObject({
  token: z.optional(z.string().check(z.minLength(1), z.maxLength(2_000))),
  since: z._default(z.coerce.number().check(z.int(), z.minimum(0)), 0),
});

/** The handler of `/runs/:runId/live` or `/batches/:batchId/live`. */
export function subscribe(kind: Extract<IdKind, "run" | "batch">) {
  return async (c: Context<AppEnv>) => {
    const friendlyId = c.req.param(kind === "run" ? "runId" : "batchId")!;
    const { id } = parseFriendlyId(kind, friendlyId);
    if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
      return problemResponse(
        { status: 426, title: "Upgrade required", detail: "Connect with a WebSocket" },
        { upgrade: "websocket" },
      );
    }
    const query = liveQuerySchema.safeParse(c.req.query());
    if (!query.success) return problemResponse({ status: 422, title: "Invalid request", errors: query.error.issues });
    const { token, since } = query.data;
    let environmentId: string;
    let audience: Audience = "full";
    if (token) {
      // The executor holding a run follows it with its own run-scoped token (to hear it resume, with outputs).
      const claims = await verifyToken(c.var.config.SIGNING_SECRET, token, "public", "page", "executor");
      if (claims?.sub !== friendlyId) return unauthorized("The token is not valid for this subject, or it expired");
      environmentId = claims.env;
      if (claims.scope === "public" || claims.scope === "page") audience = claims.scope;
    } else {
      const environment = await environmentFromKey(c);
      if (environment instanceof Response) return environment;
      environmentId = environment.environmentId;
    }
    const { runs } = c.var.stores;
    const status =
      kind === "run"
        ? (await runs.findRun(environmentId, id, { fresh: true }))?.status
        : (await runs.findBatch(environmentId, id, { fresh: true })) && "PENDING";
    if (!status) throw notFound(kind === "run" ? "Run" : "Batch");

    const target = new URL("https://run-do/live");
    target.searchParams.set("kind", kind);
    target.searchParams.set("id", id);
    target.searchParams.set("status", status);
    target.searchParams.set("since", String(since));
    target.searchParams.set("audience", audience);
    const objects = liveObjects(c.env);
    const object = kind === "run" ? objects.run(id) : objects.batch(id);
    return object.fetch(target, { headers: { upgrade: "websocket" } });
  };
}
