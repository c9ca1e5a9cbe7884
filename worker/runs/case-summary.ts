/**
 * A suite run's cases as a person reads them, from the batch's runs and their step results: what the
 * check run's summary and the suite run's page both show.
 */
import { type RunStatus, isFinal } from "../../schema/run-states.ts";
import { cutText } from "../../schema/storable.ts";
import { toFriendlyId } from "../store/ids.ts";
import type { Run, RunStore } from "../store/run-store.ts";
import { specFacts } from "./spec-runs.ts";

export interface CaseSummary {
  runId: string;
  name: string;
  status: RunStatus;
  durationMs: number | null;
  /** The failed step of the last attempt; message is the step's error, else the run's. */
  failingStep: { index: number; label: string; message: string } | null;
  /** A run that failed with no failed step (crashed, timed out between steps) says why here. */
  errorMessage: string | null;
  /** The artifact key of the failing step's screenshot. */
  screenshotKey: string | null;
}

/** The case's name as written in the suite (a repository test's as Playwright lists it), else the run's id. */
export const caseName = (run: Run) => {
  const payload = run.payload as { case?: { name?: string }; name?: string } | null;
  return cutText(String(payload?.case?.name ?? payload?.name ?? toFriendlyId("run", run.id)), 200);
};

export const durationOf = (run: Pick<Run, "startedAt" | "completedAt">) =>
  run.startedAt && run.completedAt ? run.completedAt.getTime() - run.startedAt.getTime() : null;

export function summarizeCases(store: Pick<RunStore, "listSteps">, runs: Run[]): Promise<CaseSummary[]> {
  return Promise.all(
    runs.map(async (run) => {
      const unsuccessful = run.status !== "COMPLETED" && isFinal(run.status);
      const failed = unsuccessful
        ? (await store.listSteps(run.id)).find((step) => step.attempt === run.attempt && step.status === "FAILED")
        : undefined;
      const errorMessage = unsuccessful ? ((run.error as { message?: string } | null)?.message ?? null) : null;
      return {
        runId: toFriendlyId("run", run.id),
        name: caseName(run),
        status: run.status,
        durationMs: specFacts(run).durationMs ?? durationOf(run),
        failingStep: failed
          ? {
              index: failed.index,
              label: failed.label ?? failed.action,
              message: cutText(failed.error ?? errorMessage ?? run.status, 10_000),
            }
          : null,
        errorMessage: errorMessage === null ? null : cutText(errorMessage, 10_000),
        screenshotKey: failed?.screenshotKey ?? null,
      };
    }),
  );
}
