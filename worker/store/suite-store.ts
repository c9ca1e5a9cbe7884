/**
 * Suites and their cases (control plane, `legacy` only): what a repository's pull requests are checked with.
 * A suite and its cases are written in one transaction; every read is scoped by environment.
 */
import type { SuiteInput, SuiteTrigger, UpdateSuiteInput } from "../../schema/api.ts";
import type { cases, suites } from "../../schema/control-plane.ts";
import { FLAKE_WINDOW, type FlakeCount, type RepositorySource } from "../../schema/spec-suites.ts";
import type { Case } from "../../schema/steps.ts";
import { LegacyTables } from "./legacy-tables.ts";
import { mintCuid } from "./ids.ts";
import { Params, assignmentsOf, insertRows, query, transaction, valuesOf } from "./sql.ts";
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
  /** NAME → sealed value (worker/runs/secret-box.ts): never shown, only opened for a setup run. */
  secrets: Record<string, string>;
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

/** Seals a suite's secrets before they are written: the store only ever sees sealed values. */
export type SecretSealer = <V extends string | null>(
  suiteId: string,
  secrets: Record<string, V>,
) => Promise<Record<string, V>>;

/** Sources stored before shards existed run as one. */
const sourceOf = (stored: RepositorySource): RepositorySource => ({ ...stored, shards: stored.shards ?? 1 });

const toSuite = (row: SuiteRow, caseRows: CaseRow[]): Suite => ({
  ...row,
  secrets: row.secrets ?? {},
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

const RECENT_OUTCOMES = `select count(*) filter (where flaky)::int as flaky, count(*)::int as runs
  from (select flaky from spec_test_outcomes where suite_id = $1 and test_name = $2
        order by created_at desc, run_id desc limit $3) recent`;

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

  async create(environmentId: string, input: SuiteInput, seal: SecretSealer): Promise<Suite> {
    const { cases: items, secrets, ...fields } = input;
    const id = mintCuid();
    const sealed = await seal(id, secrets ?? {});
    return this.guard(() =>
      transaction(this.pool, async (tx) => {
        const [row] = await insertRows<SuiteRow>(tx, tables.suites, [
          { id, environmentId, ...fields, secrets: sealed },
        ]);
        const caseRows = items ? await insertRows<CaseRow>(tx, tables.cases, this.caseRows(row!.id, items)) : [];
        return toSuite(row!, caseRows);
      }),
    );
  }

  /**
   * Cases are replaced as a whole when given; cases and a repository source replace each other. Secrets are
   * merged: a named one is set (or removed, when null), the others keep their values.
   */
  async update(
    environmentId: string,
    id: string,
    patch: UpdateSuiteInput,
    seal: SecretSealer,
  ): Promise<Suite | undefined> {
    const { cases: items, secrets, ...fields } = patch;
    const sealed = Object.entries(await seal(id, secrets ?? {}));
    return this.guard(() =>
      transaction(this.pool, async (tx) => {
        const params = new Params(id, environmentId);
        const changes = { ...fields, ...(items && { source: null }), updatedAt: new Date() };
        const removed = params.add(sealed.filter(([, value]) => value === null).map(([name]) => name));
        const added = params.add(JSON.stringify(Object.fromEntries(sealed.filter(([, value]) => value !== null))));
        const secretsSet = `secrets = (secrets - ${removed}::text[]) || ${added}::jsonb`;
        const text = `update suites set ${assignmentsOf(tables.suites, changes, params)}, ${secretsSet}
          where id = $1 and environment_id = $2 returning *`;
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

  /**
   * Records a finished repository test once (keyed by its run) and answers how often it was flaky in its
   * latest FLAKE_WINDOW runs in this suite, this one included.
   */
  recordTestOutcome(outcome: {
    runId: string;
    suiteId: string;
    testName: string;
    flaky: boolean;
  }): Promise<FlakeCount> {
    return this.guard(async () => {
      const params = new Params();
      const values = valuesOf(tables.specTestOutcomes, [outcome], params);
      await this.pool.query(`insert into spec_test_outcomes ${values} on conflict (run_id) do nothing`, params.values);
      const { rows } = await this.pool.query(RECENT_OUTCOMES, [outcome.suiteId, outcome.testName, FLAKE_WINDOW]);
      return { flaky: rows[0].flaky, runs: rows[0].runs };
    });
  }

  private async withCases(rows: SuiteRow[]): Promise<Suite[]> {
    if (rows.length === 0) return [];
    const caseRows = await this.select<CaseRow>(tables.cases, CASES_OF, [rows.map((row) => row.id)]);
    return rows.map((row) => toSuite(row, caseRows));
  }
}
