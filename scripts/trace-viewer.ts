/**
 * Fills `static/trace/` (gitignored; `static/_headers` says how it is served) with Playwright's trace viewer, a
 * static web app inside playwright-core, which the Worker serves as static assets (`[assets]` in wrangler.toml)
 * at `/trace/`: from our origin, so it can fetch a run's trace with the run page's token, yet outside the Worker
 * script and its size limit. Run by `npm ci`'s postinstall and before a build, so the viewer is always the one
 * of the installed Playwright.
 */
import { cpSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const viewer = join(root, "static", "trace");
const core = dirname(createRequire(import.meta.url).resolve("playwright-core/package.json"));
const { version } = createRequire(import.meta.url)("playwright-core/package.json") as { version: string };

rmSync(viewer, { recursive: true, force: true });
cpSync(join(core, "lib", "vite", "traceViewer"), viewer, { recursive: true });
console.log(`flightcheck: trace viewer: Playwright ${version}'s, in static/trace`);
