/**
 * The demo's repository suite (`npm start`): Playwright tests as a team keeps them beside its code, served by
 * the local GitHub stand-in as the repository `acme/demo-shop` and run against the demo shop. It pins no
 * @playwright/test of its own (no package.json), so the executor runs it with its own, and nothing is installed.
 */
import { defineConfig } from "@playwright/test";

export default defineConfig({
  testDir: "./tests",
  use: { baseURL: process.env.SHOP_URL },
  expect: { timeout: 2_000 },
});
