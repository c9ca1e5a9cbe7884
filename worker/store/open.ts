/**
 * Opens what a request needs from the databases: the RunStore over both stores and the control plane,
 * sharing one pool per database. One per request in a Worker; close it when the request ends.
 */
import type { Config } from "../config.ts";
import { ControlPlaneStore } from "./control-plane-store.ts";
import { openPool } from "./database.ts";
import type { Residency } from "./ids.ts";
import { PostgresRunStore } from "./postgres-store.ts";
import { RoutingRunStore } from "./routing-store.ts";

export interface Stores {
  runs: RoutingRunStore;
  controlPlane: ControlPlaneStore;
  close(): Promise<void>;
}

export function openStores(config: Config): Stores {
  const pools: ReturnType<typeof openPool>[] = [];
  const open = (url: string) => {
    const pool = openPool(url, { wsProxy: config.DATABASE_WS_PROXY });
    pools.push(pool);
    return pool;
  };
  const legacyPool = open(config.LEGACY_DATABASE_URL);
  const runStore = (residency: Residency, writer: ReturnType<typeof openPool>, replicaUrl?: string) =>
    new PostgresRunStore(residency, writer, replicaUrl ? open(replicaUrl) : undefined);

  const close = async () => {
    await Promise.allSettled(pools.map((pool) => pool.end()));
  };
  return {
    runs: new RoutingRunStore(
      {
        legacy: runStore("legacy", legacyPool, config.LEGACY_REPLICA_URL),
        new: config.RUNOPS_DATABASE_URL ? runStore("new", open(config.RUNOPS_DATABASE_URL), config.RUNOPS_REPLICA_URL) : undefined,
      },
      { splitEnabled: config.RUN_OPS_SPLIT_ENABLED },
    ),
    controlPlane: new ControlPlaneStore(legacyPool, open(config.LEGACY_DATABASE_URL)),
    close,
  };
}
