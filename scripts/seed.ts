/**
 * The local development tenant: organisation `dev`, project `demo`, environment `dev`, and its secret key.
 * Idempotent: an existing key is kept (and re-hashed in place if the database was wiped).
 */
import { apiKeyPrefix, hashApiKey, hasValidChecksum, mintApiKey } from "../schema/api-keys.ts";
import * as controlPlane from "../schema/control-plane.ts";
import type { Pool } from "@neondatabase/serverless";
import { database } from "../worker/store/database.ts";
import { mintCuid } from "../worker/store/ids.ts";

const { organizations, projects, environments } = controlPlane;

export interface SeedOptions {
  slug?: string;
  /** Keep this key if given (e.g. from .flightcheck/dev.json) and intact, else mint one. */
  apiKey?: string;
  concurrencyLimit?: number;
}

export interface Tenant {
  organizationId: string;
  projectId: string;
  environmentId: string;
  apiKey: string;
}

export async function seedTenant(
  pool: Pool,
  { slug = "dev", apiKey: given, concurrencyLimit = 10 }: SeedOptions = {},
): Promise<Tenant> {
  // A key minted before keys carried a checksum would be refused: replace it.
  const apiKey = given && (await hasValidChecksum(given)) ? given : await mintApiKey("dev");
  const apiKeyHash = await hashApiKey(apiKey);
  return database(pool).transaction(async (tx) => {
    const [organization] = await tx
      .insert(organizations)
      .values({ id: mintCuid(), slug, name: `${slug} organisation`, concurrencyLimit })
      .onConflictDoUpdate({ target: organizations.slug, set: { concurrencyLimit } })
      .returning();
    const [project] = await tx
      .insert(projects)
      .values({ id: mintCuid(), organizationId: organization!.id, slug: "demo", name: "Demo" })
      .onConflictDoUpdate({ target: [projects.organizationId, projects.slug], set: { name: "Demo" } })
      .returning();
    const [environment] = await tx
      .insert(environments)
      .values({
        id: mintCuid(),
        organizationId: organization!.id,
        projectId: project!.id,
        slug: "dev",
        apiKeyHash,
        apiKeyPrefix: apiKeyPrefix(apiKey),
      })
      .onConflictDoUpdate({
        target: [environments.projectId, environments.slug],
        set: { apiKeyHash, apiKeyPrefix: apiKeyPrefix(apiKey) },
      })
      .returning();
    return { organizationId: organization!.id, projectId: project!.id, environmentId: environment!.id, apiKey };
  });
}
