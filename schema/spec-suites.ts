/**
 * Suites that live in the repository (issue #17): the suite names a file in the repository (`flightcheck.json`),
 * read at the commit under test, which says how to run the repository's own Playwright tests. Shared by the
 * Worker (suite API, recording one run per test) and the executor (reads the file, runs Playwright): zod only.
 *
 * How runs come to be: a suite run of a repository suite starts as one `playwright-suite` run (the "setup"
 * case: download, install, list). Its executor learns the tests from Playwright's own listing and asks the
 * Worker (`POST /internal/runs/:id/spec-runs`, fenced by its attempt) to record one `playwright-test` run per
 * test in the same batch, already EXECUTING at attempt 1 under that executor: so run pages, the check run and
 * the live socket treat each test as a case. Playwright's retries happen inside that one attempt.
 */
import * as z from "./zod.ts";
import { repositorySchema } from "./github.ts";
import { text } from "./storable.ts";

/** A path inside the repository: relative, forward slashes, no `..` (the tarball is hostile input). */
export const repoPathSchema = z.string().check(
  z.minLength(1),
  z.maxLength(300),
  z.regex(/^(?!\/)(?!.*(^|\/)\.\.?(\/|$))[A-Za-z0-9._@+\-/ ]+$/, "expected a relative path inside the repository, without . or .. parts"),
);

/** On the suite: where the suite's definition lives in the repository. */
export const repositorySourceSchema = z.strictObject({
  kind: z.literal("repository"),
  path: z._default(repoPathSchema, "flightcheck.json"),
});
export type RepositorySource = z.infer<typeof repositorySourceSchema>;

export const MAX_SPEC_TESTS = 500;
const envName = z.string().check(z.regex(/^[A-Z_][A-Z0-9_]{0,63}$/, "expected an environment variable name (A-Z, 0-9, _)"));

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
  /** Let `npm ci` run lifecycle scripts (off by default: they run before any test and outside the browser). */
  installScripts: z._default(z.boolean(), false),
});
export type SpecSuiteFile = z.infer<typeof specSuiteFileSchema>;

/** The `playwright-suite` run's payload: where to read the suite, at which commit, against which URL. */
export const playwrightSuitePayloadSchema = z.strictObject({
  name: text(200),
  repository: repositorySchema,
  sha: z.string().check(z.regex(/^[0-9a-f]{40}$/i)),
  installationId: z.int().check(z.minimum(1)),
  path: repoPathSchema,
  baseUrl: z.url({ protocol: /^https?$/ }),
});
export type PlaywrightSuitePayload = z.infer<typeof playwrightSuitePayloadSchema>;

/** Where a test is written, relative to the repository root. */
export const specLocationSchema = z.strictObject({
  file: repoPathSchema,
  line: z.int().check(z.minimum(1)),
  column: z._default(z.int().check(z.minimum(0)), 0),
});
export type SpecLocation = z.infer<typeof specLocationSchema>;

/** One test as Playwright listed it; becomes a `playwright-test` run's payload. */
export const specTestSchema = z.strictObject({
  /** Playwright's test id (stable for a config, file, title and project). */
  testId: text(200),
  /** `file › describe › title [project]`, as a case name. */
  name: text(200),
  location: specLocationSchema,
});
export type SpecTest = z.infer<typeof specTestSchema>;

export const specRunsBodySchema = z.strictObject({
  tests: z
    .array(specTestSchema)
    .check(
      z.minLength(1),
      z.maxLength(MAX_SPEC_TESTS),
      z.refine((tests) => new Set(tests.map((item) => item.testId)).size === tests.length, "test ids must be unique"),
    ),
});

/** A `playwright-test` run's output: flaky when it failed and then passed on a retry. */
export const specTestOutputSchema = z.looseObject({
  flaky: z._default(z.boolean(), false),
  retries: z._default(z.int().check(z.minimum(0)), 0),
  location: z.optional(specLocationSchema),
});

export const INTERNAL_TASK_PAYLOADS = {
  "playwright-suite": playwrightSuitePayloadSchema,
  "playwright-test": specTestSchema,
} as const;
