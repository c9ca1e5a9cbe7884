/** Secret-key auth for /api/v1: `Authorization: Bearer fc_<env>_<random>`, looked up by its SHA-256. */
import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import { hashApiKey } from "../../schema/api-keys.ts";
import { problemResponse } from "../problem.ts";
import type { AuthenticatedEnvironment } from "../store/control-plane-store.ts";
import type { AppEnv } from "./context.ts";

const BEARER = /^Bearer (fc_[A-Za-z0-9]{1,32}_[A-Za-z0-9]{16,128})$/;

export const unauthorized = (detail: string) =>
  problemResponse({ status: 401, title: "Unauthorized", detail }, { "www-authenticate": 'Bearer realm="flightcheck"' });

/** The environment whose secret key the request carries, or the 401 to answer. */
export async function environmentFromKey(c: Context<AppEnv>): Promise<AuthenticatedEnvironment | Response> {
  const key = BEARER.exec(c.req.header("authorization") ?? "")?.[1];
  if (!key) return unauthorized("Send a secret key: Authorization: Bearer fc_…");
  const environment = await c.var.engine.deps.controlPlane.findEnvironmentByKeyHash(await hashApiKey(key));
  return environment ?? unauthorized("Unknown secret key");
}

export const requireApiKey = createMiddleware<AppEnv>(async (c, next) => {
  const environment = await environmentFromKey(c);
  if (environment instanceof Response) return environment;
  c.set("environment", environment);
  await next();
});
