import { defineConfig } from "drizzle-kit";

// The control-plane database: control-plane tables plus its copy of the run tables.
export default defineConfig({
  dialect: "postgresql",
  casing: "snake_case",
  schema: "./schema/control-plane.ts",
  out: "./schema/migrations/legacy",
});
