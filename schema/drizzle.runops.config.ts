import { defineConfig } from "drizzle-kit";

// The run-ops database: the run tables only.
export default defineConfig({
  dialect: "postgresql",
  casing: "snake_case",
  schema: "./schema/run-ops.ts",
  out: "./schema/migrations/runops",
});
