import { Hono } from "hono/tiny";
import type { AppEnv } from "./context.ts";
import { problemResponse } from "../problem.ts";
import { checkStores } from "../store/health.ts";

export const health = new Hono<AppEnv>().get("/healthz", async (c) => {
  const stores = await checkStores(c.get("config"), (p) => c.executionCtx.waitUntil(p));
  const down = Object.entries(stores).filter(([, store]) => store.status === "unavailable");
  if (down.length === 0) return c.json({ ok: true, stores });
  return problemResponse({
    status: 503,
    title: "Store unavailable",
    detail: down.map(([name]) => `${name}: unavailable`).join("; "),
    ok: false,
    stores,
  });
});
