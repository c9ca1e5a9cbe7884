/**
 * The control-plane database seen by the Worker: who a secret key belongs to, and the per-organisation
 * lock that keeps concurrency limits exact across both run stores.
 */
import { eq } from "drizzle-orm";
import * as controlPlane from "../../schema/control-plane.ts";
import { ACTIVE_STATUSES } from "../runs/transitions.ts";
import { LegacyTables } from "./legacy-tables.ts";
import { residencyOf } from "./ids.ts";

const { environments } = controlPlane;

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

const ACTIVE = ACTIVE_STATUSES.map((status) => `'${status}'`).join(", ");

export class ControlPlaneStore extends LegacyTables {
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
   * Runs `critical` holding the organisation's transaction-scoped advisory lock. BEGIN, the lock and the
   * reads admission needs (the limit, the legacy active count) travel in one round trip. Whatever
   * `critical` commits in either run store before returning is seen by the next holder. `critical` must not
   * query this store's pool.
   */
  async withOrganizationLock<T>(organizationId: string, critical: (organization: LockedOrganization) => Promise<T>): Promise<T> {
    // The simple query protocol carries several statements but no parameters: the id is inlined, so it
    // must be an id of ours.
    if (!residencyOf(organizationId)) throw new Error(`not an organisation id: ${organizationId}`);
    const client = await this.guard(() => this.pool.connect());
    try {
      const results = (await this.guard(() =>
        client.query(`
          begin;
          select
            pg_advisory_xact_lock(hashtext('${organizationId}')),
            (select concurrency_limit from organizations where id = '${organizationId}') as "limit",
            (select count(*)::int from runs where organization_id = '${organizationId}' and status in (${ACTIVE})) as "active"`),
      )) as unknown as { rows: { limit: number | null; active: number }[] }[];
      const row = results[1]?.rows[0];
      const result = await critical({ concurrencyLimit: row?.limit ?? 0, activeInLegacy: row?.active ?? 0 });
      await this.guard(() => client.query("commit"));
      return result;
    } catch (error) {
      await client.query("rollback").catch(() => {});
      throw error;
    } finally {
      client.release();
    }
  }
}
