/**
 * Suite runs (DESIGN §6): a suite's enabled cases as one batch of `browser-case` runs, recorded and
 * dispatched through the same two phases as any batch. A run started for a GitHub commit carries its
 * repository, SHA and installation, and its batch's RunDO keeps the one check run that reports it, whose
 * details link opens the suite run's page.
 */
import { cutText } from "../../schema/storable.ts";
import { pageUrl } from "../pages/links.ts";
import { ProblemError } from "../problem.ts";
import { toFriendlyId } from "../store/ids.ts";
import type { Batch, Created, Owner, Run } from "../store/run-store.ts";
import type { Suite } from "../store/suite-store.ts";
import type { EngineDeps } from "./deps.ts";
import { dispatchOrLeaveForSweep } from "./dispatch.ts";
import { createBatchRecord } from "./record.ts";
import { setupItems } from "./spec-runs.ts";

export interface SuiteRunOrigin {
  headSha?: string;
  ref?: string;
  pullRequestNumber?: number;
  installationId?: number;
  /** Overrides the suite's own (a deployment's URL). */
  baseUrl?: string;
  /**
   * What on GitHub started it (`pull_request`, `deployment_status:<deployment id>`, `check_run:<delivery>`):
   * a suite starts once per head SHA and this, however often the delivery is replayed or reprocessed.
   */
  githubEvent?: string;
}

/** What GitHub lists the suite run's check run as. */
export const checkRunName = (suiteName: string) => cutText(`flightcheck: ${suiteName}`, 100);

export async function startSuiteRun(
  deps: EngineDeps,
  owner: Owner,
  suite: Suite,
  origin: SuiteRunOrigin = {},
): Promise<Created<{ batch: Batch; runs: Run[] }>> {
  const baseUrl = origin.baseUrl ?? suite.baseUrl;
  const { source } = suite;
  const items = source
    ? setupItems({ ...suite, source }, origin, baseUrl)
    : suite.cases
        .filter((item) => item.enabled)
        .map(({ case: testCase }) => ({
          task: "browser-case",
          payload: { case: testCase, baseUrl },
          options: { maxAttempts: testCase.maxAttempts, tags: [cutText(`suite:${suite.name}`, 128)] },
        }));
  if (items.length === 0)
    throw new ProblemError({ status: 422, title: "Nothing to run", detail: "Every case of this suite is disabled" });
  const { githubEvent, headSha } = origin;
  const idempotencyKey = githubEvent && headSha ? `github:${suite.id}:${headSha}:${githubEvent}` : undefined;
  const created = await createBatchRecord(
    deps,
    owner,
    { items, idempotencyKey },
    {
      suiteId: suite.id,
      repository: suite.repository,
      headSha: origin.headSha,
      ref: origin.ref,
      pullRequestNumber: origin.pullRequestNumber,
      installationId: origin.installationId,
    },
    { internalTasks: true },
  );
  const { batch, runs } = created.record;
  // Check runs need the App and a public address for their details link; without them they are off. Tracking
  // again is a no-op, and repairs a suite run whose first processing died before this.
  const { GITHUB_APP_ID, PUBLIC_URL } = deps.config;
  if (batch.installationId && batch.headSha && GITHUB_APP_ID && PUBLIC_URL) {
    await deps.objects.batch(batch.id).trackCheckRun(batch.id, {
      installationId: batch.installationId,
      repository: suite.repository,
      headSha: batch.headSha,
      name: checkRunName(suite.name),
      detailsUrl: await pageUrl(
        deps.config.SIGNING_SECRET,
        PUBLIC_URL,
        batch.environmentId,
        toFriendlyId("batch", batch.id),
      ),
      environmentId: batch.environmentId,
    });
  }
  // A suite run started before is not dispatched again; runs whose dispatch was lost are the sweep's.
  if (!created.isCached) deps.defer(dispatchOrLeaveForSweep(deps, runs));
  return created;
}
