/** The Worker's entry points: HTTP (Hono), the run-dispatch queue, cron sweeps; and its Durable Objects. */
import { app } from "./app.ts";
import { consumeQueue } from "./queue/consumer.ts";
import { withEngine } from "./runs/engine.ts";

export { ExecutorContainer } from "./durable/executor-container.ts";
export { BatchDO } from "./durable/batch-do.ts";
export { RunDO } from "./durable/run-do.ts";

export default {
  fetch: app.fetch,
  queue: consumeQueue,
  scheduled: (_controller, env, ctx) => ctx.waitUntil(withEngine(env, (engine) => engine.sweep())),
} satisfies ExportedHandler<Env>;
