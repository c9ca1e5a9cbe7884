/**
 * What the GitHub App remembers (control plane, `legacy` only): deliveries seen, installations, the
 * organisation each is bound to, and the repositories each covers.
 */
import { and, eq, inArray, isNull, lt, or, sql } from "drizzle-orm";
import * as controlPlane from "../../schema/control-plane.ts";
import type { Database } from "./database.ts";
import { LegacyTables } from "./legacy-tables.ts";

const { githubInstallationRepositories, githubInstallations, webhookDeliveries } = controlPlane;

export class GitHubStore extends LegacyTables {
  /**
   * Claims a delivery for processing: true the first time its id or its body is seen. A redelivery or a
   * replay of the same signed body is false, unless the delivery that claimed it never finished (the Worker
   * died while processing it) and was claimed before `staleBefore`: then this call takes it over.
   * Returns the id of the row to mark processed (the replay's own id, or the one it took over).
   */
  claimDelivery(
    delivery: { id: string; event: string; action: string | undefined; bodySha256: string },
    staleBefore: Date,
  ): Promise<string | undefined> {
    return this.guard(async () => {
      const [inserted] = await this.db
        .insert(webhookDeliveries)
        .values(delivery)
        .onConflictDoNothing() // on either key: the delivery id or the body's hash
        .returning({ id: webhookDeliveries.id });
      if (inserted) return inserted.id;
      // Compare-and-set on received_at, so of several late replays only one takes the stale row over.
      const [takenOver] = await this.db
        .update(webhookDeliveries)
        .set({ receivedAt: new Date() })
        .where(
          and(
            or(eq(webhookDeliveries.id, delivery.id), eq(webhookDeliveries.bodySha256, delivery.bodySha256)),
            isNull(webhookDeliveries.processedAt),
            lt(webhookDeliveries.receivedAt, staleBefore),
          ),
        )
        .returning({ id: webhookDeliveries.id });
      return takenOver?.id;
    });
  }

  markProcessed(id: string): Promise<void> {
    return this.guard(async () => {
      await this.db.update(webhookDeliveries).set({ processedAt: new Date() }).where(eq(webhookDeliveries.id, id));
    });
  }

  forgetDelivery(id: string): Promise<void> {
    return this.guard(async () => {
      await this.db.delete(webhookDeliveries).where(eq(webhookDeliveries.id, id));
    });
  }

  /**
   * Records what an `installation` or `installation_repositories` event says about an installation. The
   * organisation it belongs to is never set here: only the setup URL binds (see `bindInstallation`).
   */
  saveInstallation(installation: InstallationFacts, repositories?: string[]): Promise<void> {
    return this.guard(() =>
      this.db.transaction(async (tx) => {
        await this.upsertFacts(tx, installation, { deletedAt: null });
        if (!repositories) return;
        await tx.delete(githubInstallationRepositories).where(eq(githubInstallationRepositories.installationId, installation.id));
        await this.insertRepositories(tx, installation.id, repositories);
      }),
    );
  }

  /** `installation_repositories`: repositories added to and removed from a "selected" installation. */
  changeRepositories(installation: InstallationFacts, added: string[], removed: string[]): Promise<void> {
    return this.guard(() =>
      this.db.transaction(async (tx) => {
        await this.upsertFacts(tx, installation);
        await this.insertRepositories(tx, installation.id, added);
        if (removed.length === 0) return;
        await tx
          .delete(githubInstallationRepositories)
          .where(
            and(
              eq(githubInstallationRepositories.installationId, installation.id),
              inArray(githubInstallationRepositories.repository, removed.map((name) => name.toLowerCase())),
            ),
          );
      }),
    );
  }

  private async upsertFacts(tx: Pick<Database, "insert">, installation: InstallationFacts, extra: { deletedAt?: null } = {}): Promise<void> {
    const { id: _id, ...facts } = installation;
    await tx.insert(githubInstallations).values(installation).onConflictDoUpdate({ target: githubInstallations.id, set: { ...facts, ...extra } });
  }

  private async insertRepositories(tx: Pick<Database, "insert">, installationId: number, repositories: string[]): Promise<void> {
    if (repositories.length === 0) return;
    const rows = repositories.map((name) => ({ installationId, repository: name.toLowerCase() }));
    await tx.insert(githubInstallationRepositories).values(rows).onConflictDoNothing();
  }

  deleteInstallation(id: number): Promise<void> {
    return this.guard(async () => {
      await this.db.update(githubInstallations).set({ deletedAt: new Date() }).where(eq(githubInstallations.id, id));
    });
  }

  /** A suspended installation starts nothing until it is unsuspended. */
  suspendInstallation(id: number, suspended: boolean): Promise<void> {
    return this.guard(async () => {
      await this.db.update(githubInstallations).set({ suspendedAt: suspended ? new Date() : null }).where(eq(githubInstallations.id, id));
    });
  }

  /**
   * Binds an installation to an organisation, once: "bound" the first time (or again for the same
   * organisation), "taken" when another organisation holds it (it is never moved).
   */
  bindInstallation(installation: InstallationFacts, organizationId: string): Promise<"bound" | "taken"> {
    return this.guard(async () => {
      const { id, ...facts } = installation;
      const rows = await this.db
        .insert(githubInstallations)
        .values({ ...installation, organizationId })
        .onConflictDoUpdate({
          target: githubInstallations.id,
          set: { ...facts, organizationId },
          setWhere: sql`${githubInstallations.organizationId} is null or ${githubInstallations.organizationId} = ${organizationId}`,
        })
        .returning({ id: githubInstallations.id });
      return rows.length > 0 ? "bound" : "taken";
    });
  }

  /** The organisation an installation is bound to, while it is neither deleted nor suspended. */
  organizationOf(installationId: number): Promise<string | undefined> {
    return this.guard(async () => {
      const [row] = await this.db
        .select({ organizationId: githubInstallations.organizationId })
        .from(githubInstallations)
        .where(and(eq(githubInstallations.id, installationId), isNull(githubInstallations.deletedAt), isNull(githubInstallations.suspendedAt)));
      return row?.organizationId ?? undefined;
    });
  }

  /**
   * Whether an organisation's installations cover a repository: one of them is on the repository's owner
   * with every repository selected, or lists it.
   */
  coverage(organizationId: string, repository: string): Promise<"covered" | "no installation" | "not covered"> {
    return this.guard(async () => {
      const owner = repository.split("/")[0]!;
      const rows = await this.db
        .select({
          covers: sql<boolean>`(${githubInstallations.repositorySelection} = 'all' and lower(${githubInstallations.accountLogin}) = lower(${owner}))
            or exists (select 1 from ${githubInstallationRepositories} where ${githubInstallationRepositories.installationId} = ${githubInstallations.id}
              and ${githubInstallationRepositories.repository} = lower(${repository}))`,
        })
        .from(githubInstallations)
        .where(and(eq(githubInstallations.organizationId, organizationId), isNull(githubInstallations.deletedAt), isNull(githubInstallations.suspendedAt)));
      if (rows.length === 0) return "no installation";
      return rows.some((row) => row.covers) ? "covered" : "not covered";
    });
  }
}

/** What GitHub tells about an installation (the selection is absent from some events). */
export interface InstallationFacts {
  id: number;
  accountLogin: string;
  accountType: string;
  repositorySelection?: "all" | "selected";
}
