/**
 * Settings are validated once at each process's edge (DESIGN §10). Empty strings count as unset, and a
 * failure names every missing or malformed setting.
 */
import type * as z from "./zod.ts";

export class ConfigError extends Error {
  override name = "ConfigError";
}

export function parseSettings<T extends z.ZodMiniType>(schema: T, env: object, what: string): z.infer<T> {
  const cleaned = Object.fromEntries(
    Object.entries(env).filter(([, value]) => typeof value === "string" && value !== ""),
  );
  const parsed = schema.safeParse(cleaned);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => {
    const name = issue.path.join(".");
    const missing = issue.code === "invalid_type" && !(name in cleaned);
    return `${name || "(root)"}: ${missing ? "required" : issue.message}`;
  });
  throw new ConfigError(`Invalid ${what} configuration: ${problems.join("; ")}`);
}
