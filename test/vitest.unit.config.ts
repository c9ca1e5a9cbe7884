import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

// The fast layer: pure rules (transition table, admission, fencing) in plain Node, with no database, no
// wrangler and no browser, so `npm run test:unit` answers in seconds. `npm test` runs it too.
export const unitProject = {
  test: { name: "unit", include: ["test/unit/**/*.test.ts"], environment: "node" as const },
};

export default defineConfig({
  root: fileURLToPath(new URL("..", import.meta.url)),
  test: { projects: [unitProject] },
});
