/**
 * Runs of a repository suite (issue #17, see schema/spec-suites.ts): the setup runs a suite run starts with
 * (one per shard), and the runs each one's executor asks for once Playwright has listed its tests. Those are
 * recorded EXECUTING at attempt 1 under that executor (it streams, heartbeats and completes each with its own
 * token), watched by their RunDO like any claimed run, and final after one attempt: Playwright retries inside it.
 */
import { type SpecTest, specTestOutputSchema, specTestSchema } from "../../schema/spec-suites.ts";
import { cutText } from "../../schema/storable.ts";
import { ProblemError } from "../problem.ts";
import { toFriendlyId } from "../store/ids.ts";
import type { Run } from "../store/run-store.ts";
import type { Suite } from "../store/suite-store.ts";
import type { EngineDeps } from "./deps.ts";
import { publishStatus, wakeRunAt } from "./live.ts";
import type { SuiteRunOrigin } from "./suite-runs.ts";
import { mintExecutorToken } from "./tokens.ts";

/**
 * The setup runs' items, one per shard: each reads the suite at the commit, installs, lists its share of the
 * tests and runs them; one attempt each (its tests are recorded once).
 */
export function setupItems(
  suite: Suite & { source: NonNullable<Suite["source"]> },
  origin: SuiteRunOrigin,
  baseUrl: string,
) {
  const { headSha: sha, installationId } = origin;
  if (!sha || !installationId) {
    const detail = "A repository suite runs at a commit GitHub told us about: it starts from the repository's webhooks";
    throw new ProblemError({ status: 422, title: "Not startable here", detail });
  }
  const { path, shards } = suite.source;
  const options = { maxAttempts: 1, tags: [cutText(`suite:${suite.name}`, 128)] };
  return Array.from({ length: shards }, (_, offset) => {
    const shard = shards > 1 ? { index: offset + 1, total: shards } : undefined;
    const share = shard ? `, shard ${shard.index} of ${shard.total}` : "";
    const name = cutText(`Playwright tests (${path} at ${sha.slice(0, 7)}${share})`, 200);
    const payload = { name, repository: suite.repository, sha, installationId, path, baseUrl, shard };
    return { task: "spec-suite", payload, options };
  });
}

const conflict = (detail: string) => new ProblemError({ status: 409, title: "Conflict", detail });

/** One run per test a setup run listed, in its batch, with the executor token each is reported with. */
export async function recordSpecRuns(
  deps: EngineDeps,
  setup: Run,
  tests: SpecTest[],
): Promise<{ run: Run; token: string }[]> {
  if (setup.task !== "spec-suite" || !setup.batchId)
    throw conflict("Only a repository suite's setup run records tests");
  const batch = await deps.runs.loadBatch(setup.batchId);
  if (!batch) throw conflict("The setup run's suite run is gone");
  const now = new Date();
  const items = tests.map((test) => ({
    task: "spec-test",
    payload: test,
    status: "EXECUTING" as const,
    attempt: 1,
    maxAttempts: 1,
    startedAt: now,
    lastHeartbeatAt: now,
    tags: setup.tags ?? undefined,
  }));
  // Each setup run records its share once: a second call (a retried request) records nothing.
  const runs = await deps.runs.appendToBatch(batch, toFriendlyId("run", setup.id), items);
  if (!runs) throw conflict("This setup run's tests were recorded already");
  const deadline = now.getTime() + deps.config.HEARTBEAT_TIMEOUT_MS;
  return Promise.all(
    runs.map(async (run) => {
      await Promise.all([publishStatus(deps, run), wakeRunAt(deps, run, "heartbeat", deadline)]);
      return {
        run,
        token: await mintExecutorToken(deps.config.SIGNING_SECRET, run.environmentId, toFriendlyId("run", run.id), 1),
      };
    }),
  );
}

/**
 * What a check run says of a repository test beyond its status: flaky, where it failed, and how long its
 * deciding attempt took (its run started when Playwright listed it, not when it ran).
 */
export function specFacts(run: Run): {
  flaky?: boolean;
  location?: { path: string; line: number };
  durationMs?: number;
} {
  if (run.task !== "spec-test") return {};
  const output = specTestOutputSchema.safeParse(run.output ?? {});
  const test = specTestSchema.safeParse(run.payload);
  const where = (output.success && output.data.location) || (test.success ? test.data.location : undefined);
  return {
    ...(output.success && output.data.flaky && { flaky: true }),
    ...(where && { location: { path: where.file, line: where.line } }),
    ...(output.success && output.data.durationMs !== undefined && { durationMs: output.data.durationMs }),
  };
}
