/**
 * Opens what one unit of work (a request, a queue batch, an alarm) needs from the databases: the RunStore
 * over both run stores and the control plane. In a Worker a pool must not outlive its unit of work; close
 * it at the end.
 *
 * One pool per database: the legacy run store shares the control plane's, so a request holds at most one
 * connection to each database (auth, admission and a legacy run's insert go over the same one). No statement
 * holds a lock across round trips (admission is one statement), so nothing waits for a connection it holds.
 */
import type { Config } from "../config.ts";
import { AdmissionLedger } from "./admission-store.ts";
import { ControlPlaneStore } from "./control-plane-store.ts";
import { openPool } from "./pool.ts";
import { GitHubStore } from "./github-store.ts";
import { PostgresRunStore } from "./postgres-store.ts";
import { RoutingRunStore } from "./routing-store.ts";
import { SuiteStore } from "./suite-store.ts";

export interface Stores {
  runs: RoutingRunStore;
  controlPlane: ControlPlaneStore;
  admissions: AdmissionLedger;
  suites: SuiteStore;
  github: GitHubStore;
  /**
   * Starts connecting to run-ops when new runs go there, once per unit of work: while the request authenticates
   * on the control plane, or while a trigger with a cached key is admitted there.
   */
  warm(): void;
  close(): Promise<void>;
}

export function openStores(config: Config): Stores {
  const pools: ReturnType<typeof openPool>[] = [];
  const open = (url: string) => {
    const pool = openPool(url, {
      wsProxy: config.DATABASE_WS_PROXY,
      connectionTimeoutMillis: config.DATABASE_CONNECT_TIMEOUT_MS,
    });
    pools.push(pool);
    return pool;
  };
  const replica = (url?: string) => (url ? open(url) : undefined);
  let warmed = false;

  const controlPlanePool = open(config.LEGACY_DATABASE_URL);
  const runs = new RoutingRunStore(
    {
      legacy: new PostgresRunStore("legacy", controlPlanePool, replica(config.LEGACY_REPLICA_URL)),
      new: config.RUNOPS_DATABASE_URL
        ? new PostgresRunStore("new", open(config.RUNOPS_DATABASE_URL), replica(config.RUNOPS_REPLICA_URL))
        : undefined,
    },
    { splitEnabled: config.RUN_OPS_SPLIT_ENABLED },
  );
  return {
    runs,
    controlPlane: new ControlPlaneStore(controlPlanePool),
    admissions: new AdmissionLedger(controlPlanePool),
    suites: new SuiteStore(controlPlanePool),
    github: new GitHubStore(controlPlanePool),
    warm: () => {
      // Auth is connecting the control plane's pool already; a second connection there would be one too many,
      // and so would a second warming of run-ops while the first still connects.
      const pool = runs.warmPool();
      if (pool === controlPlanePool || warmed) return;
      warmed = true;
      pool.connect().then(
        (client) => client.release(),
        () => {}, // the first real query reports the failure
      );
    },
    close: async () => {
      await Promise.allSettled(pools.map((pool) => pool.end()));
    },
  };
}
