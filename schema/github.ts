/**
 * GitHub messages that cross the Worker → executor boundary. Check runs are posted from the executor (it holds
 * the App's private key); the Worker's batch Durable Object sends it one `CheckRunSync` per change.
 * No runtime imports here: the Worker and the executor both load this file.
 */
import * as z from "./zod.ts";
import { runStatusSchema } from "./run-states.ts";
import { text } from "./storable.ts";

export const CHECK_RUN_STATUSES = ["queued", "in_progress", "completed"] as const;
export const CHECK_RUN_CONCLUSIONS = ["success", "failure", "cancelled", "timed_out"] as const;

const webUrl = z.url({ protocol: /^https?$/ }).check(z.maxLength(2_000));

/**
 * A repository as `owner/name`, by GitHub's rules: the owner is 1–39 letters, digits and hyphens, the name
 * 1–100 letters, digits, `.`, `_` and `-`, and not "." or "..". The one rule for suites, webhooks and check runs.
 */
export const repositorySchema = z.string().check(
  z.maxLength(140),
  z.regex(/^[A-Za-z0-9-]{1,39}\/[A-Za-z0-9._-]{1,100}$/, { message: 'expected "owner/name"' }),
  z.refine((full) => !/\/\.{1,2}$/.test(full), { message: 'a repository name may not be "." or ".."' }),
);

export const checkRunCaseSchema = z.strictObject({
  name: text(200),
  status: runStatusSchema,
  durationMs: z.nullish(z.int().check(z.minimum(0))),
  failingStep: z.nullish(
    z.strictObject({
      /** 0-based, as in step reports. */
      index: z.int().check(z.minimum(0), z.maximum(999)),
      /** The step's label, or its action when it has none. */
      label: text(300),
      message: text(10_000),
    }),
  ),
  screenshotUrl: z.nullish(webUrl),
  /** A repository test that failed and then passed on a retry (its status is COMPLETED). */
  flaky: z.optional(z.boolean()),
  /** How often a repository test was flaky in its latest runs in this suite (issue #17), when it ever was. */
  flakes: z.optional(z.strictObject({ flaky: z.int(), runs: z.int() })),
  /** Where a repository test failed (or is written), for an annotation at that line. */
  location: z.optional(z.strictObject({ path: text(300), line: z.int().check(z.minimum(1)) })),
});
export type CheckRunCase = z.infer<typeof checkRunCaseSchema>;

/** Create (no `checkRunId`) or update one check run: always the whole current state, never a delta. */
export const checkRunSyncSchema = z
  .strictObject({
    installationId: z.int().check(z.minimum(1)),
    repository: repositorySchema,
    headSha: z.string().check(z.regex(/^[0-9a-f]{40}$/i, { message: "expected a 40-hex commit SHA" })),
    checkRunId: z.optional(z.int().check(z.minimum(1))),
    name: text(200),
    detailsUrl: webUrl,
    /** The batch id: lets a `check_run` webhook find its suite run again. */
    externalId: text(200),
    status: z.enum(CHECK_RUN_STATUSES),
    conclusion: z.optional(z.enum(CHECK_RUN_CONCLUSIONS)),
    startedAt: z.optional(z.iso.datetime()),
    completedAt: z.optional(z.iso.datetime()),
    cases: z.array(checkRunCaseSchema).check(z.maxLength(500)),
  })
  .check(
    z.refine((sync) => (sync.status === "completed") === (sync.conclusion !== undefined), {
      message: "conclusion is required when status is completed, and only then",
      path: ["conclusion"],
    }),
    z.refine((sync) => sync.completedAt === undefined || sync.status === "completed", {
      message: "completedAt is only allowed when status is completed",
      path: ["completedAt"],
    }),
  );
export type CheckRunSync = z.infer<typeof checkRunSyncSchema>;
