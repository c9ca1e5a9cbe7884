import { Container, getRandom } from "@cloudflare/containers";
import type { Config } from "../config.ts";
import { loadConfig } from "../config.ts";

/** Containers the Worker spreads executor calls over in production. */
const EXECUTOR_INSTANCES = 3;

/** The executor image (top-level Dockerfile) in production. Locally the executor is a plain process. */
export class ExecutorContainer extends Container<Env> {
  override defaultPort = 8080;
  override sleepAfter = "5m";

  constructor(ctx: DurableObjectState<Record<string, never>>, env: Env) {
    super(ctx, env);
    const config = loadConfig(env);
    this.envVars = {
      PORT: "8080",
      EXECUTOR_SHARED_SECRET: config.EXECUTOR_SHARED_SECRET,
      WORKER_URL: config.PUBLIC_URL ?? "",
      GITHUB_API_URL: config.GITHUB_API_URL,
      ...(config.GITHUB_APP_ID &&
        config.GITHUB_PRIVATE_KEY && {
          GITHUB_APP_ID: config.GITHUB_APP_ID,
          GITHUB_PRIVATE_KEY: config.GITHUB_PRIVATE_KEY,
        }),
    };
  }
}

/**
 * POSTs `body` as JSON to the executor: `EXECUTOR_URL` locally, one of the containers in production. The
 * shared secret proves the caller is this Worker.
 */
export async function callExecutor(
  config: Config,
  env: Pick<Env, "EXECUTOR">,
  path: string,
  body: unknown,
): Promise<Response> {
  const init = {
    method: "POST",
    headers: { authorization: `Bearer ${config.EXECUTOR_SHARED_SECRET}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  };
  if (config.EXECUTOR_URL) return fetch(`${config.EXECUTOR_URL}${path}`, init);
  const container = await getRandom(env.EXECUTOR, EXECUTOR_INSTANCES);
  return container.fetch(`http://executor${path}`, init);
}
