/** The control-plane database seen by the Worker: who a secret key belongs to. Admission is admission-store.ts. */
import { eq } from "drizzle-orm";
import * as controlPlane from "../../schema/control-plane.ts";
import { LegacyTables } from "./legacy-tables.ts";

const { environments } = controlPlane;

export interface AuthenticatedEnvironment {
  organizationId: string;
  projectId: string;
  environmentId: string;
  slug: string;
}

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
}
