/** The executor process: `npm run executor`, or the container's entry point. */
import { loadExecutorConfig } from "./config.ts";
import { startExecutorServer } from "./server.ts";

let config: ReturnType<typeof loadExecutorConfig>;
try {
  config = loadExecutorConfig(process.env);
} catch (error) {
  console.error((error as Error).message);
  process.exit(1);
}

const server = await startExecutorServer(config);
// Up as soon as it listens (it takes jobs from then on); the browser launches meanwhile.
console.log(
  `executor listening on ${server.url} (concurrency ${config.EXECUTOR_CONCURRENCY}, worker ${config.WORKER_URL})`,
);
console.log(
  config.GITHUB_APP_ID && config.GITHUB_PRIVATE_KEY
    ? `GitHub App ${config.GITHUB_APP_ID} at ${config.GITHUB_API_URL}: check runs are on`
    : "GITHUB_APP_ID / GITHUB_PRIVATE_KEY not set: check runs are off",
);
await server.warm();

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, async () => {
    console.log(`executor: ${signal}, finishing running cases (up to ${config.SHUTDOWN_GRACE_MS} ms)`);
    await server.close();
    process.exit(0);
  });
}
