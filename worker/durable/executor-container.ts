import { Container } from "@cloudflare/containers";

/** The executor image (top-level Dockerfile) in production. Locally the executor is a plain process. */
export class ExecutorContainer extends Container<Env> {
  override defaultPort = 8080;
  override sleepAfter = "5m";

  constructor(ctx: DurableObjectState<{}>, env: Env) {
    super(ctx, env);
    this.envVars = { PORT: "8080", EXECUTOR_SHARED_SECRET: env.EXECUTOR_SHARED_SECRET };
  }
}
