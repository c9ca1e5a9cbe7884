/**
 * What the GitHub App remembers (control plane, `legacy` only): deliveries seen, installations, the
 * organisation each is bound to, and the repositories each covers.
 */
import type { PoolClient } from "@neondatabase/serverless";
import { LegacyTables } from "./legacy-tables.ts";
import { Params, type Queryable, assignmentsOf, transaction, valuesOf } from "./sql.ts";
import { githubInstallationRepositories, githubInstallations, webhookDeliveries } from "./tables.ts";

/** Compare-and-set on received_at, so of several late replays only one takes the stale row over. */
const TAKE_OVER = `update webhook_deliveries set received_at = $4
  where (id = $1 or body_sha256 = $2) and processed_at is null and received_at < $3
  returning id`;

/** Its organisation, while the installation is neither deleted nor suspended. */
const ORGANIZATION_OF = `select organization_id from github_installations
  where id = $1 and deleted_at is null and suspended_at is null`;

/** Per live installation of the organisation: does it cover the repository ($2 owner, $3 owner/name)? */
const COVERAGE = `select
    (repository_selection = 'all' and lower(account_login) = lower($2))
    or exists (select 1 from github_installation_repositories r
      where r.installation_id = github_installations.id and r.repository = lower($3)) as covers
  from github_installations
  where organization_id = $1 and deleted_at is null and suspended_at is null`;

export class GitHubStore extends LegacyTables {
  /**
   * Claims a delivery for processing: true the first time its id or its body is seen. A redelivery or a
   * replay of the same signed body is false, unless the delivery that claimed it never finished (the Worker
   * died while processing it) and was claimed before `staleBefore`: then this call takes it over.
   * Returns the id of the row to mark processed (the replay's own id, or the one it took over).
   */
  async claimDelivery(
    delivery: { id: string; event: string; action: string | undefined; bodySha256: string },
    staleBefore: Date,
  ): Promise<string | undefined> {
    const params = new Params();
    // On either key: the delivery id or the body's hash.
    const values = valuesOf(webhookDeliveries, [delivery], params);
    const insert = `insert into webhook_deliveries ${values} on conflict do nothing returning id`;
    const [inserted] = await this.select<{ id: string }>(webhookDeliveries, insert, params.values);
    if (inserted) return inserted.id;
    const [takenOver] = await this.select<{ id: string }>(webhookDeliveries, TAKE_OVER, [
      delivery.id,
      delivery.bodySha256,
      staleBefore,
      new Date(),
    ]);
    return takenOver?.id;
  }

  async markProcessed(id: string): Promise<void> {
    await this.select(webhookDeliveries, "update webhook_deliveries set processed_at = $2 where id = $1", [
      id,
      new Date(),
    ]);
  }

  async forgetDelivery(id: string): Promise<void> {
    await this.select(webhookDeliveries, "delete from webhook_deliveries where id = $1", [id]);
  }

  /**
   * Records what an `installation` or `installation_repositories` event says about an installation. The
   * organisation it belongs to is never set here: only the setup URL binds (see `bindInstallation`).
   */
  saveInstallation(installation: InstallationFacts, repositories?: string[]): Promise<void> {
    return this.guard(() =>
      transaction(this.pool, async (tx) => {
        await this.upsertFacts(tx, installation, { deletedAt: null });
        if (!repositories) return;
        await tx.query("delete from github_installation_repositories where installation_id = $1", [installation.id]);
        await this.insertRepositories(tx, installation.id, repositories);
      }),
    );
  }

  /** `installation_repositories`: repositories added to and removed from a "selected" installation. */
  changeRepositories(installation: InstallationFacts, added: string[], removed: string[]): Promise<void> {
    return this.guard(() =>
      transaction(this.pool, async (tx) => {
        await this.upsertFacts(tx, installation);
        await this.insertRepositories(tx, installation.id, added);
        if (removed.length === 0) return;
        await tx.query(
          "delete from github_installation_repositories where installation_id = $1 and repository = any($2)",
          [installation.id, removed.map((name) => name.toLowerCase())],
        );
      }),
    );
  }

  private async upsertFacts(
    tx: PoolClient,
    installation: InstallationFacts,
    extra: { deletedAt?: null } = {},
  ): Promise<void> {
    const { id: _id, ...facts } = installation;
    const params = new Params();
    const values = valuesOf(githubInstallations, [installation], params);
    const set = assignmentsOf(githubInstallations, { ...facts, ...extra }, params);
    await tx.query(`insert into github_installations ${values} on conflict (id) do update set ${set}`, params.values);
  }

  private async insertRepositories(db: Queryable, installationId: number, repositories: string[]): Promise<void> {
    if (repositories.length === 0) return;
    const params = new Params();
    const rows = repositories.map((name) => ({ installationId, repository: name.toLowerCase() }));
    const values = valuesOf(githubInstallationRepositories, rows, params);
    await db.query(`insert into github_installation_repositories ${values} on conflict do nothing`, params.values);
  }

  async deleteInstallation(id: number): Promise<void> {
    await this.select(githubInstallations, "update github_installations set deleted_at = $2 where id = $1", [
      id,
      new Date(),
    ]);
  }

  /** A suspended installation starts nothing until it is unsuspended. */
  async suspendInstallation(id: number, suspended: boolean): Promise<void> {
    const text = "update github_installations set suspended_at = $2 where id = $1";
    await this.select(githubInstallations, text, [id, suspended ? new Date() : null]);
  }

  /**
   * Binds an installation to an organisation, once: "bound" the first time (or again for the same
   * organisation), "taken" when another organisation holds it (it is never moved).
   */
  async bindInstallation(installation: InstallationFacts, organizationId: string): Promise<"bound" | "taken"> {
    const { id: _id, ...facts } = installation;
    const params = new Params();
    const values = valuesOf(githubInstallations, [{ ...installation, organizationId }], params);
    const set = assignmentsOf(githubInstallations, { ...facts, organizationId }, params);
    const organization = params.add(organizationId);
    const text = `insert into github_installations ${values} on conflict (id) do update set ${set}
      where github_installations.organization_id is null or github_installations.organization_id = ${organization}
      returning id`;
    const rows = await this.select(githubInstallations, text, params.values);
    return rows.length > 0 ? "bound" : "taken";
  }

  /** The organisation an installation is bound to, while it is neither deleted nor suspended. */
  async organizationOf(installationId: number): Promise<string | undefined> {
    const [row] = await this.select<{ organizationId: string | null }>(githubInstallations, ORGANIZATION_OF, [
      installationId,
    ]);
    return row?.organizationId ?? undefined;
  }

  /**
   * Whether an organisation's installations cover a repository: one of them is on the repository's owner
   * with every repository selected, or lists it.
   */
  async coverage(organizationId: string, repository: string): Promise<"covered" | "no installation" | "not covered"> {
    const owner = repository.split("/")[0]!;
    const rows = await this.select<{ covers: boolean }>(githubInstallations, COVERAGE, [
      organizationId,
      owner,
      repository,
    ]);
    if (rows.length === 0) return "no installation";
    return rows.some((row) => row.covers) ? "covered" : "not covered";
  }
}

/** What GitHub tells about an installation (the selection is absent from some events). */
export interface InstallationFacts {
  id: number;
  accountLogin: string;
  accountType: string;
  repositorySelection?: "all" | "selected";
}
