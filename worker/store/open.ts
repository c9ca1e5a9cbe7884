/**
 * Opens what one unit of work (a request, a queue batch, an alarm) needs from the databases: the RunStore
 * over both run stores and the control plane. In a Worker a pool must not outlive its unit of work; close
 * it at the end.
 *
 * Three pools: the control plane's (auth and organisation locks), and one per run store. Critical sections
 * run under a control-plane connection and query only the run stores' pools, so lock holders and waiters
 * can never take the connections the holder needs.
 */
import type { Config } from "../config.ts";
import { ControlPlaneStore } from "./control-plane-store.ts";
import { openPool } from "./database.ts";
import type { Residency } from "./ids.ts";
import { GitHubStore } from "./github-store.ts";
import { PostgresRunStore } from "./postgres-store.ts";
import { RoutingRunStore } from "./routing-store.ts";
import { SuiteStore } from "./suite-store.ts";

export interface Stores {
  runs: RoutingRunStore;
  controlPlane: ControlPlaneStore;
  suites: SuiteStore;
  github: GitHubStore;
  /** Starts connecting to the store new runs go to now, while the request authenticates on the control plane. */
  warm(): void;
  close(): Promise<void>;
}

export function openStores(config: Config): Stores {
  const pools: ReturnType<typeof openPool>[] = [];
  const open = (url: string) => {
    const pool = openPool(url, { wsProxy: config.DATABASE_WS_PROXY, connectionTimeoutMillis: config.DATABASE_CONNECT_TIMEOUT_MS });
    pools.push(pool);
    return pool;
  };
  const runStore = (residency: Residency, url: string, replicaUrl?: string) =>
    new PostgresRunStore(residency, open(url), replicaUrl ? open(replicaUrl) : undefined);

  const controlPlanePool = open(config.LEGACY_DATABASE_URL);
  const runs = new RoutingRunStore(
    {
      legacy: runStore("legacy", config.LEGACY_DATABASE_URL, config.LEGACY_REPLICA_URL),
      new: config.RUNOPS_DATABASE_URL ? runStore("new", config.RUNOPS_DATABASE_URL, config.RUNOPS_REPLICA_URL) : undefined,
    },
    { splitEnabled: config.RUN_OPS_SPLIT_ENABLED },
  );
  return {
    runs,
    controlPlane: new ControlPlaneStore(controlPlanePool),
    suites: new SuiteStore(controlPlanePool),
    github: new GitHubStore(controlPlanePool),
    warm: () => {
      runs.warmPool()?.connect().then(
        (client) => client.release(),
        () => {}, // the first real query reports the failure
      );
    },
    close: async () => {
      await Promise.allSettled(pools.map((pool) => pool.end()));
    },
  };
}
