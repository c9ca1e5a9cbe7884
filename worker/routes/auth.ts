/** Secret-key auth for /api/v1: `Authorization: Bearer fc_<env>_<random>`, looked up by its SHA-256. */
import { createMiddleware } from "hono/factory";
import { hashApiKey } from "../../schema/api-keys.ts";
import { problemResponse } from "../problem.ts";
import type { AppEnv } from "./context.ts";

const BEARER = /^Bearer (fc_[A-Za-z0-9]{1,32}_[A-Za-z0-9]{16,128})$/;

const unauthorized = (detail: string) =>
  problemResponse({ status: 401, title: "Unauthorized", detail }, { "www-authenticate": 'Bearer realm="flightcheck"' });

export const requireApiKey = createMiddleware<AppEnv>(async (c, next) => {
  const key = BEARER.exec(c.req.header("authorization") ?? "")?.[1];
  if (!key) return unauthorized("Send a secret key: Authorization: Bearer fc_…");
  const environment = await c.var.engine.deps.controlPlane.findEnvironmentByKeyHash(await hashApiKey(key));
  if (!environment) return unauthorized("Unknown secret key");
  c.set("environment", environment);
  await next();
});
