/**
 * Suites and their cases (control plane, `legacy` only): what a repository's pull requests are checked with.
 * A suite and its cases are written in one transaction; every read is scoped by environment.
 */
import type { SuiteInput, SuiteTrigger } from "../../schema/api.ts";
import type { cases, suites } from "../../schema/control-plane.ts";
import type { RepositorySource } from "../../schema/spec-suites.ts";
import type { Case } from "../../schema/steps.ts";
import { LegacyTables } from "./legacy-tables.ts";
import { mintCuid } from "./ids.ts";
import { Params, assignmentsOf, insertRows, query, transaction } from "./sql.ts";
import * as tables from "./tables.ts";

export interface Suite {
  id: string;
  environmentId: string;
  name: string;
  repository: string;
  baseUrl: string;
  triggers: SuiteTrigger[];
  cases: { enabled: boolean; case: Case }[];
  /** The repository's own Playwright tests (then `cases` is empty). */
  source: RepositorySource | null;
  createdAt: Date;
  updatedAt: Date;
}

/** A suite with the owner a run of it is recorded for (webhooks find suites by repository, not by key). */
export interface OwnedSuite extends Suite {
  organizationId: string;
  projectId: string;
}

type SuiteRow = typeof suites.$inferSelect;
type CaseRow = typeof cases.$inferSelect;

/** Sources stored before shards existed run as one. */
const sourceOf = (stored: RepositorySource): RepositorySource => ({ ...stored, shards: stored.shards ?? 1 });

const toSuite = (row: SuiteRow, caseRows: CaseRow[]): Suite => ({
  ...row,
  triggers: row.triggers as SuiteTrigger[],
  source: row.source ? sourceOf(row.source as RepositorySource) : null,
  cases: caseRows
    .filter((item) => item.suiteId === row.id)
    .sort((a, b) => a.position - b.position)
    .map((item) => ({ enabled: item.enabled, case: { name: item.name, ...(item.definition as Omit<Case, "name">) } })),
});

const CASES_OF = "select * from cases where suite_id = any($1)";

/** An organisation's suites on a repository that a trigger starts, with the owner of each, oldest first. */
const FOR_REPOSITORY = `select suites.*, environments.organization_id, environments.project_id
  from suites join environments on environments.id = suites.environment_id
  where environments.organization_id = $1 and lower(suites.repository) = lower($2) and suites.triggers ? $3
  order by suites.created_at, suites.id`;

export class SuiteStore extends LegacyTables {
  private caseRows(suiteId: string, items: NonNullable<SuiteInput["cases"]>) {
    return items.map(({ enabled, case: { name, ...definition } }, position) => ({
      id: mintCuid(),
      suiteId,
      position,
      name,
      enabled,
      definition,
    }));
  }

  create(environmentId: string, input: SuiteInput): Promise<Suite> {
    return this.guard(() =>
      transaction(this.pool, async (tx) => {
        const { cases: items, ...fields } = input;
        const [row] = await insertRows<SuiteRow>(tx, tables.suites, [{ id: mintCuid(), environmentId, ...fields }]);
        const caseRows = items ? await insertRows<CaseRow>(tx, tables.cases, this.caseRows(row!.id, items)) : [];
        return toSuite(row!, caseRows);
      }),
    );
  }

  /** Cases are replaced as a whole when given; cases and a repository source replace each other. */
  update(environmentId: string, id: string, patch: Partial<SuiteInput>): Promise<Suite | undefined> {
    return this.guard(() =>
      transaction(this.pool, async (tx) => {
        const { cases: items, ...fields } = patch;
        const params = new Params(id, environmentId);
        const changes = { ...fields, ...(items && { source: null }), updatedAt: new Date() };
        const set = assignmentsOf(tables.suites, changes, params);
        const text = `update suites set ${set} where id = $1 and environment_id = $2 returning *`;
        const [row] = await query<SuiteRow>(tx, tables.suites, text, params);
        if (!row) return undefined;
        if (items || fields.source) await tx.query("delete from cases where suite_id = $1", [id]);
        if (items) await insertRows(tx, tables.cases, this.caseRows(id, items));
        return toSuite(row, await query<CaseRow>(tx, tables.cases, CASES_OF, [[id]]));
      }),
    );
  }

  async delete(environmentId: string, id: string): Promise<boolean> {
    const text = "delete from suites where id = $1 and environment_id = $2 returning id";
    return (await this.select(tables.suites, text, [id, environmentId])).length > 0;
  }

  async find(environmentId: string, id: string): Promise<Suite | undefined> {
    const text = "select * from suites where id = $1 and environment_id = $2";
    return (await this.withCases(await this.select<SuiteRow>(tables.suites, text, [id, environmentId])))[0];
  }

  async list(environmentId: string): Promise<Suite[]> {
    const text = "select * from suites where environment_id = $1 order by created_at desc, id";
    return this.withCases(await this.select<SuiteRow>(tables.suites, text, [environmentId]));
  }

  /**
   * The organisation's suites on the repository that `trigger` starts, in any of its environments, oldest
   * first (then by id), so a delivery starts them in a defined order.
   */
  async findForRepository(organizationId: string, repository: string, trigger: SuiteTrigger): Promise<OwnedSuite[]> {
    const rows = await this.select<SuiteRow & Pick<OwnedSuite, "organizationId" | "projectId">>(
      tables.suites,
      FOR_REPOSITORY,
      [organizationId, repository, trigger],
    );
    return (await this.withCases(rows)) as OwnedSuite[];
  }

  private async withCases(rows: SuiteRow[]): Promise<Suite[]> {
    if (rows.length === 0) return [];
    const caseRows = await this.select<CaseRow>(tables.cases, CASES_OF, [rows.map((row) => row.id)]);
    return rows.map((row) => toSuite(row, caseRows));
  }
}
