import * as z from "zod";
import { parseSettings } from "../schema/settings.ts";

const schema = z.object({
  PORT: z.coerce.number().int().min(1).max(65_535).default(8080),
  HOST: z.string().default("0.0.0.0"),
  EXECUTOR_SHARED_SECRET: z.string().min(16, "must be at least 16 characters"),
  /** Cases run at once. One browser case per 2 cores is the measured sweet spot. */
  EXECUTOR_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(1),
});

export type ExecutorConfig = z.infer<typeof schema>;

export const loadExecutorConfig = (env: NodeJS.ProcessEnv): ExecutorConfig => parseSettings(schema, env, "executor");
