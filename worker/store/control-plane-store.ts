/**
 * The control-plane database seen by the Worker: who a secret key belongs to, and the per-organisation
 * lock that keeps concurrency limits exact across both run stores.
 */
import { eq, sql } from "drizzle-orm";
import * as controlPlane from "../../schema/control-plane.ts";
import type { Pool } from "@neondatabase/serverless";
import { type Database, transaction, withSchema } from "./database.ts";
import { ACTIVE_STATUSES } from "../runs/transitions.ts";
import { normaliseStoreError } from "./errors.ts";

const { environments, organizations, runs } = controlPlane;

export interface AuthenticatedEnvironment {
  organizationId: string;
  projectId: string;
  environmentId: string;
  slug: string;
}

/** What admission needs, read in the same statement that takes the lock. */
export interface LockedOrganization {
  concurrencyLimit: number;
  /** Active runs of the organisation in this (legacy) database; the run-ops store is counted separately. */
  activeInLegacy: number;
}

const ACTIVE = sql.join(
  ACTIVE_STATUSES.map((status) => sql`${status}`),
  sql`, `,
);

export class ControlPlaneStore {
  private readonly pool: Pool;
  private readonly db: Database<typeof controlPlane>;

  constructor(pool: Pool) {
    this.pool = pool;
    this.db = withSchema(pool, controlPlane);
  }

  private async guard<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      throw normaliseStoreError(error, "legacy");
    }
  }

  /** Looks a key up by its SHA-256: the lookup never compares the secret itself. */
  findEnvironmentByKeyHash(apiKeyHash: string): Promise<AuthenticatedEnvironment | undefined> {
    return this.guard(async () => {
      const [row] = await this.db
        .select({
          organizationId: environments.organizationId,
          projectId: environments.projectId,
          environmentId: environments.id,
          slug: environments.slug,
        })
        .from(environments)
        .where(eq(environments.apiKeyHash, apiKeyHash));
      return row;
    });
  }

  /**
   * Runs `critical` holding the organisation's transaction-scoped advisory lock. One statement takes the
   * lock and reads the limit and the legacy active count under it. Whatever `critical` commits in either
   * run store before returning is seen by the next holder. `critical` must not query this store's pool.
   */
  withOrganizationLock<T>(organizationId: string, critical: (organization: LockedOrganization) => Promise<T>): Promise<T> {
    return this.guard(() =>
      transaction(this.pool, controlPlane, async (tx) => {
        const { rows } = await tx.execute<{ limit: number | null; active: number }>(sql`
          select
            pg_advisory_xact_lock(hashtext(${organizationId})),
            (select ${organizations.concurrencyLimit} from ${organizations} where ${organizations.id} = ${organizationId}) as "limit",
            (select count(*)::int from ${runs} where ${runs.organizationId} = ${organizationId} and ${runs.status} in (${ACTIVE})) as "active"`);
        return critical({ concurrencyLimit: rows[0]?.limit ?? 0, activeInLegacy: rows[0]?.active ?? 0 });
      }),
    );
  }
}
