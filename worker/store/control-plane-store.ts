/**
 * The control-plane database seen by the Worker: who a secret key belongs to, and the per-organisation
 * lock that keeps concurrency limits exact across both run stores.
 */
import { eq, sql } from "drizzle-orm";
import * as controlPlane from "../../schema/control-plane.ts";
import type { Pool } from "@neondatabase/serverless";
import { type Database, transaction, withSchema } from "./database.ts";
import { normaliseStoreError } from "./errors.ts";

const { environments, organizations } = controlPlane;

export interface AuthenticatedEnvironment {
  organizationId: string;
  projectId: string;
  environmentId: string;
  slug: string;
}

export class ControlPlaneStore {
  private readonly db: Database<typeof controlPlane>;
  private readonly lockPool: Pool;

  /**
   * `lockPool` holds the connections that wait for and hold organisation locks. It must not be the pool the
   * critical sections query through: ten holders-and-waiters could otherwise take every connection while
   * the holder waits for one to count runs.
   */
  constructor(pool: Pool, lockPool: Pool) {
    this.db = withSchema(pool, controlPlane);
    this.lockPool = lockPool;
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
   * Runs `critical` holding the organisation's transaction-scoped advisory lock; it gets the organisation's
   * concurrency limit, read under the lock. Whatever `critical` commits elsewhere before returning is seen
   * by the next holder.
   */
  withOrganizationLock<T>(organizationId: string, critical: (concurrencyLimit: number) => Promise<T>): Promise<T> {
    return this.guard(() =>
      transaction(this.lockPool, controlPlane, async (tx) => {
        await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${organizationId}))`);
        const [organization] = await tx
          .select({ concurrencyLimit: organizations.concurrencyLimit })
          .from(organizations)
          .where(eq(organizations.id, organizationId));
        return critical(organization?.concurrencyLimit ?? 0);
      }),
    );
  }
}
