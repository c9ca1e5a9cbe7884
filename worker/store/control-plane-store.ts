/** The control-plane database seen by the Worker: who a secret key belongs to. Admission is admission-store.ts. */
import { LegacyTables } from "./legacy-tables.ts";
import { environments } from "./tables.ts";

export interface AuthenticatedEnvironment {
  organizationId: string;
  projectId: string;
  environmentId: string;
  slug: string;
}

const BY_KEY_HASH = `select organization_id, project_id, id as environment_id, slug from environments
  where api_key_hash = $1`;

export class ControlPlaneStore extends LegacyTables {
  /** Looks a key up by its SHA-256: the lookup never compares the secret itself. */
  async findEnvironmentByKeyHash(apiKeyHash: string): Promise<AuthenticatedEnvironment | undefined> {
    return (await this.select<AuthenticatedEnvironment>(environments, BY_KEY_HASH, [apiKeyHash]))[0];
  }
}
