import type { Config } from "../config.ts";
import type { AdmissionLedger } from "../store/admission-store.ts";
import type { ControlPlaneStore } from "../store/control-plane-store.ts";
import type { GitHubStore } from "../store/github-store.ts";
import type { RunStore } from "../store/run-store.ts";
import type { SuiteStore } from "../store/suite-store.ts";

/** What every part of the run engine is given: its stores and the bindings it sends through. */
export interface EngineDeps {
  runs: RunStore;
  controlPlane: ControlPlaneStore;
  admissions: AdmissionLedger;
  suites: SuiteStore;
  github: GitHubStore;
  config: Config;
  bindings: Pick<Env, "RUN_DISPATCH" | "RUN_DO" | "EXECUTOR">;
  /** Work that may finish after the answer is sent (a request's waitUntil); the stores stay open for it. */
  defer(work: Promise<unknown>): void;
}
