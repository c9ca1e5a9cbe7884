/**
 * A repository suite's secrets and flake counts at the Worker's end of the executor line (issue #17), loaded
 * with `await import()` by the internal routes of spec runs only. The setup run an executor has claimed gets
 * the opened values, unless it runs a fork's pull request; a spec run's completion is scrubbed of them again
 * (the executor scrubbed it first) and a test's completion gets its flake count across suite runs.
 */
import type { RunCompletion } from "../../schema/contracts.ts";
import { secretScrubber } from "../../schema/scrub.ts";
import {
  type RunSecrets,
  specSuitePayloadSchema,
  specTestOutputSchema,
  specTestSchema,
} from "../../schema/spec-suites.ts";
import { ProblemError } from "../problem.ts";
import type { Run } from "../store/run-store.ts";
import type { Suite } from "../store/suite-store.ts";
import type { Stores } from "./engine.ts";
import { openSecrets } from "./secret-box.ts";

/** The suite a spec run's suite run was started from; undefined once it was deleted. */
async function suiteOf(stores: Stores, run: Run): Promise<Suite | undefined> {
  const batch = run.batchId ? await stores.runs.loadBatch(run.batchId) : undefined;
  return batch?.suiteId ? stores.suites.find(batch.environmentId, batch.suiteId) : undefined;
}

export async function secretsOfSetupRun(stores: Stores, signingSecret: string, run: Run): Promise<RunSecrets> {
  const payload = specSuitePayloadSchema.safeParse(run.payload);
  if (run.task !== "spec-suite" || !payload.success) {
    const detail = "Only a repository suite's setup run is given its suite's secrets";
    throw new ProblemError({ status: 422, title: "No secrets for this run", detail });
  }
  const suite = await suiteOf(stores, run);
  const count = Object.keys(suite?.secrets ?? {}).length;
  if (!suite || count === 0) return { secrets: {} };
  if (payload.data.fromFork !== false) {
    return { secrets: {}, withheld: `a pull request from a fork runs without the suite's ${count} secret(s)` };
  }
  const secrets = await openedSecrets(signingSecret, suite);
  return secrets
    ? { secrets }
    : { secrets: {}, withheld: "they no longer open (SIGNING_SECRET changed?): set them again" };
}

/** The suite's secrets, or undefined when they were sealed under another key: a run then goes without them. */
const openedSecrets = (signingSecret: string, suite: Suite) =>
  openSecrets(signingSecret, suite.id, suite.secrets).catch(() => undefined);

/** A spec run's completion as it is stored: scrubbed of the suite's secrets, and a test's with its flake count. */
export async function settleSpecCompletion(
  stores: Stores,
  signingSecret: string,
  run: Run,
  completion: RunCompletion,
): Promise<RunCompletion> {
  const suite = await suiteOf(stores, run);
  if (!suite) return completion;
  const scrub = secretScrubber(Object.values((await openedSecrets(signingSecret, suite)) ?? {}));
  const scrubbed = scrub(completion);
  const test = specTestSchema.safeParse(run.payload);
  if (run.task !== "spec-test" || !test.success) return scrubbed;
  const output = specTestOutputSchema.safeParse(scrubbed.output ?? {});
  const flakes = await stores.suites.recordTestOutcome({
    runId: run.id,
    suiteId: suite.id,
    testName: test.data.name,
    flaky: output.success && output.data.flaky,
  });
  return { ...scrubbed, output: { ...(scrubbed.output as object | undefined), flakes } };
}
