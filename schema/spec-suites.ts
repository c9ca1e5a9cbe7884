/**
 * Suites that live in the repository (issue #17): the suite names a file in the repository (`flightcheck.json`),
 * read at the commit under test, which says how to run the repository's own Playwright tests. Shared by the
 * Worker (suite API, recording one run per test) and the executor (reads the file, runs Playwright): zod only.
 *
 * How runs come to be: a suite run of a repository suite starts as one `spec-suite` run per shard (the
 * "setup" cases: download, install, list, run). Each one's executor learns its tests from Playwright's own
 * listing and asks the Worker (`POST /internal/runs/:id/spec-runs`, fenced by its attempt) to record one
 * `spec-test` run per test in the same batch, already EXECUTING at attempt 1 under that executor: so run pages,
 * the check run and the live socket treat each test as a case. Playwright's retries happen inside that attempt.
 */
import * as z from "./zod.ts";
import { repositorySchema } from "./github.ts";
import { text } from "./storable.ts";

/** A path inside the repository: relative, forward slashes, no `..` (the tarball is hostile input). */
export const repoPathSchema = z
  .string()
  .check(
    z.minLength(1),
    z.maxLength(300),
    z.regex(
      /^(?!\/)(?!.*(^|\/)\.\.?(\/|$))[A-Za-z0-9._@+\-/ ]+$/,
      "expected a relative path inside the repository, without . or .. parts",
    ),
  );

export const MAX_SHARDS = 8;

/** On the suite: where the suite's definition lives in the repository, and how many runners share its tests. */
export const repositorySourceSchema = z.strictObject({
  kind: z.literal("repository"),
  path: z._default(repoPathSchema, "flightcheck.json"),
  /** Playwright's `--shard`: this many setup runs, each running its share of the tests on a free executor slot. */
  shards: z._default(z.int().check(z.minimum(1), z.maximum(MAX_SHARDS)), 1),
});
export type RepositorySource = z.infer<typeof repositorySourceSchema>;

export const MAX_SPEC_TESTS = 500;

/** The `spec-suite` run's payload: where to read the suite, at which commit, against which URL. */
export const specSuitePayloadSchema = z.strictObject({
  name: text(200),
  repository: repositorySchema,
  sha: z.string().check(z.regex(/^[0-9a-f]{40}$/i)),
  installationId: z.int().check(z.minimum(1)),
  path: repoPathSchema,
  baseUrl: z.url({ protocol: /^https?$/ }),
  /** This run's share of the tests (`playwright test --shard=index/total`); absent for the whole suite. */
  shard: z.optional(
    z
      .strictObject({
        index: z.int().check(z.minimum(1), z.maximum(MAX_SHARDS)),
        total: z.int().check(z.minimum(2), z.maximum(MAX_SHARDS)),
      })
      .check(z.refine((shard) => shard.index <= shard.total, "index must be at most total")),
  ),
});
export type SpecSuitePayload = z.infer<typeof specSuitePayloadSchema>;

/** Where a test is written, relative to the repository root. */
export const specLocationSchema = z.strictObject({
  file: repoPathSchema,
  line: z.int().check(z.minimum(1)),
  column: z._default(z.int().check(z.minimum(0)), 0),
});
export type SpecLocation = z.infer<typeof specLocationSchema>;

/** One test as Playwright listed it; becomes a `spec-test` run's payload. */
export const specTestSchema = z.strictObject({
  /** Playwright's test id (stable for a config, file, title and project). */
  testId: text(200),
  /** `file › describe › title [project]`, as a case name. */
  name: text(200),
  location: specLocationSchema,
});
export type SpecTest = z.infer<typeof specTestSchema>;

export const specRunsBodySchema = z.strictObject({
  tests: z.array(specTestSchema).check(
    z.minLength(1),
    z.maxLength(MAX_SPEC_TESTS),
    z.refine((tests) => new Set(tests.map((item) => item.testId)).size === tests.length, "test ids must be unique"),
  ),
});

/** A `spec-test` run's output: flaky when it failed and then passed on a retry. */
export const specTestOutputSchema = z.looseObject({
  flaky: z._default(z.boolean(), false),
  retries: z._default(z.int().check(z.minimum(0)), 0),
  location: z.optional(specLocationSchema),
  /** The deciding attempt's time (the run itself started when Playwright listed the test). */
  durationMs: z.optional(z.int().check(z.minimum(0))),
});

export const INTERNAL_TASK_PAYLOADS = {
  "spec-suite": specSuitePayloadSchema,
  "spec-test": specTestSchema,
} as const;

/** The Worker's answer to `spec-runs`: each listed test's run and the executor token it is reported with. */
export const recordedSpecRunsSchema = z.object({
  runs: z.array(z.object({ id: z.string(), testId: z.string(), token: z.string() })),
});
