/** The Hono app: one router per concern, mounted here; errors leave as problem+json. */
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { ConfigError } from "../schema/settings.ts";
import { type Config, loadConfig } from "./config.ts";
import { problemResponse } from "./problem.ts";
import { health } from "./routes/health.ts";

export type AppEnv = { Bindings: Env; Variables: { config: Config } };

export const app = new Hono<AppEnv>();

app.use(async (c, next) => {
  c.set("config", loadConfig(c.env));
  await next();
});

app.route("/", health);

app.notFound((c) => problemResponse({ status: 404, title: "Not found", detail: `No route for ${c.req.method} ${c.req.path}` }));

app.onError((error, c) => {
  if (error instanceof HTTPException) {
    return problemResponse({ status: error.status, title: error.message || "Request rejected" });
  }
  if (error instanceof ConfigError) {
    console.error(error.message);
    return problemResponse({ status: 500, title: "Server misconfigured", detail: error.message });
  }
  console.error(`${c.req.method} ${c.req.path} failed`, error);
  return problemResponse({ status: 500, title: "Internal error" });
});
