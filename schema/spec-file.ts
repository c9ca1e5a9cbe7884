/**
 * `flightcheck.json`, the file a repository suite is declared by (issue #17): read by the executor only, at the
 * commit under test (the Worker never sees it, and its bundle carries none of it).
 */
import * as z from "./zod.ts";
import { repoPathSchema } from "./spec-suites.ts";
import { text } from "./storable.ts";

const envName = z
  .string()
  .check(z.regex(/^[A-Z_][A-Z0-9_]{0,63}$/, "expected an environment variable name (A-Z, 0-9, _)"));

/** `flightcheck.json` at the commit under test. */
export const specSuiteFileSchema = z.strictObject({
  /** Playwright config, relative to the repository root. */
  config: z._default(repoPathSchema, "playwright.config.ts"),
  /** Only this project of the config (all of them when unset). */
  project: z.optional(text(100)),
  /** Overrides the config's testDir (relative to the config). */
  testDir: z.optional(repoPathSchema),
  /** The variable the tests read the preview URL from; Playwright's `use.baseURL` is set to it as well. */
  baseUrlEnv: z._default(envName, "BASE_URL"),
  /** GitHub events that run it; the suite's own triggers decide whether it is read at all. */
  events: z.optional(z.array(z.enum(["pull_request", "push", "deployment_status"])).check(z.maxLength(3))),
  /** Per test, as Playwright's `timeout`. */
  timeoutMs: z._default(z.int().check(z.minimum(1_000), z.maximum(15 * 60_000)), 30_000),
  /** The whole Playwright run, install excluded. */
  globalTimeoutMs: z._default(z.int().check(z.minimum(10_000), z.maximum(60 * 60_000)), 20 * 60_000),
  /** Playwright's `retries`: a test that fails and then passes is `flaky`. */
  retries: z._default(z.int().check(z.minimum(0), z.maximum(5)), 0),
  /**
   * When each test keeps a trace and a video, in Playwright's words (its `use.trace`/`use.video`): they are
   * uploaded to the test's run, and the run page opens the trace in the trace viewer.
   */
  trace: z._default(z.enum(["on", "off", "retain-on-failure", "on-first-retry"]), "retain-on-failure"),
  /** Let `npm ci` run lifecycle scripts (off by default: they run before any test and outside the browser). */
  installScripts: z._default(z.boolean(), false),
});
export type SpecSuiteFile = z.infer<typeof specSuiteFileSchema>;
