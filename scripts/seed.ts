/**
 * The local development tenant: organisation `dev`, project `demo`, environment `dev`, and its secret key.
 * Idempotent: an existing key is kept (and re-hashed in place if the database was wiped).
 */
import { apiKeyPrefix, hashApiKey, hasValidChecksum, mintApiKey } from "../schema/api-keys.ts";
import * as controlPlane from "../schema/control-plane.ts";
import type { Pool } from "@neondatabase/serverless";
import { database } from "../worker/store/database.ts";
import { mintCuid } from "../worker/store/ids.ts";

const { organizations, projects, environments, githubInstallationRepositories, githubInstallations } = controlPlane;

/** A GitHub App installation bound to the tenant, as the App's setup URL would bind it. */
export interface SeededInstallation {
  id: number;
  /** The GitHub account it is installed on. */
  account: string;
  /** The repositories it covers; every repository of the account when absent. */
  repositories?: string[];
}

/**
 * The local stack's stand-in installation: the dev organisation's, on every repository of `acme` (the
 * owner the demo, the end-to-end tests and the benchmarks use).
 */
export const DEV_INSTALLATION: SeededInstallation = { id: 1, account: "acme" };

/** An installation of its own for a test tenant: a random id on a random account, covering all its repositories. */
export function freshInstallation(repositories?: string[]): SeededInstallation {
  const [id] = crypto.getRandomValues(new Uint32Array(1));
  return { id: id! + 1_000, account: `t-${crypto.randomUUID().slice(0, 12)}`, repositories };
}

export interface SeedOptions {
  slug?: string;
  /** Keep this key if given (e.g. from .flightcheck/dev.json) and intact, else mint one. */
  apiKey?: string;
  concurrencyLimit?: number;
  installation?: SeededInstallation;
}

export interface Tenant {
  organizationId: string;
  projectId: string;
  environmentId: string;
  apiKey: string;
  installation?: SeededInstallation;
}

export async function seedTenant(
  pool: Pool,
  { slug = "dev", apiKey: given, concurrencyLimit = 10, installation }: SeedOptions = {},
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
    if (installation) {
      const { id, account, repositories } = installation;
      const facts = {
        accountLogin: account,
        accountType: "Organization",
        repositorySelection: repositories ? "selected" : "all",
      };
      await tx
        .insert(githubInstallations)
        .values({ id, organizationId: organization!.id, ...facts })
        .onConflictDoUpdate({
          target: githubInstallations.id,
          set: { organizationId: organization!.id, ...facts, deletedAt: null },
        });
      const rows = (repositories ?? []).map((name) => ({ installationId: id, repository: name.toLowerCase() }));
      if (rows.length) await tx.insert(githubInstallationRepositories).values(rows).onConflictDoNothing();
    }
    return {
      organizationId: organization!.id,
      projectId: project!.id,
      environmentId: environment!.id,
      apiKey,
      installation,
    };
  });
}
