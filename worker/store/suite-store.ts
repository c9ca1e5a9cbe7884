/**
 * Suites and their cases (control plane, `legacy` only): what a repository's pull requests are checked with.
 * A suite and its cases are written in one transaction; every read is scoped by environment.
 */
import { and, asc, desc, eq, inArray, sql } from "drizzle-orm";
import type { SuiteInput, SuiteTrigger } from "../../schema/api.ts";
import * as controlPlane from "../../schema/control-plane.ts";
import type { RepositorySource } from "../../schema/spec-suites.ts";
import type { Case } from "../../schema/steps.ts";
import { LegacyTables } from "./legacy-tables.ts";
import { mintCuid } from "./ids.ts";

const { cases, environments, suites } = controlPlane;

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

const toSuite = (row: SuiteRow, caseRows: CaseRow[]): Suite => ({
  ...row,
  triggers: row.triggers as SuiteTrigger[],
  source: (row.source as RepositorySource | null) ?? null,
  cases: caseRows
    .filter((item) => item.suiteId === row.id)
    .sort((a, b) => a.position - b.position)
    .map((item) => ({ enabled: item.enabled, case: { name: item.name, ...(item.definition as Omit<Case, "name">) } })),
});

export class SuiteStore extends LegacyTables {
  private caseRows(suiteId: string, items: NonNullable<SuiteInput["cases"]>) {
    return items.map(({ enabled, case: { name, ...definition } }, position) => ({ id: mintCuid(), suiteId, position, name, enabled, definition }));
  }

  create(environmentId: string, input: SuiteInput): Promise<Suite> {
    return this.guard(() =>
      this.db.transaction(async (tx) => {
        const { cases: items, ...fields } = input;
        const [row] = await tx.insert(suites).values({ id: mintCuid(), environmentId, ...fields }).returning();
        const caseRows = items ? await tx.insert(cases).values(this.caseRows(row!.id, items)).returning() : [];
        return toSuite(row!, caseRows);
      }),
    );
  }

  /** Cases are replaced as a whole when given; cases and a repository source replace each other. */
  update(environmentId: string, id: string, patch: Partial<SuiteInput>): Promise<Suite | undefined> {
    return this.guard(() =>
      this.db.transaction(async (tx) => {
        const { cases: items, ...fields } = patch;
        const [row] = await tx
          .update(suites)
          .set({ ...fields, ...(items && { source: null }), updatedAt: new Date() })
          .where(and(eq(suites.id, id), eq(suites.environmentId, environmentId)))
          .returning();
        if (!row) return undefined;
        if (items || fields.source) await tx.delete(cases).where(eq(cases.suiteId, id));
        if (items) await tx.insert(cases).values(this.caseRows(id, items));
        return toSuite(row, await tx.select().from(cases).where(eq(cases.suiteId, id)));
      }),
    );
  }

  delete(environmentId: string, id: string): Promise<boolean> {
    return this.guard(async () => {
      const deleted = await this.db.delete(suites).where(and(eq(suites.id, id), eq(suites.environmentId, environmentId))).returning({ id: suites.id });
      return deleted.length > 0;
    });
  }

  find(environmentId: string, id: string): Promise<Suite | undefined> {
    return this.guard(async () => {
      const [row] = await this.db.select().from(suites).where(and(eq(suites.id, id), eq(suites.environmentId, environmentId)));
      return row && toSuite(row, await this.db.select().from(cases).where(eq(cases.suiteId, id)));
    });
  }

  list(environmentId: string): Promise<Suite[]> {
    return this.guard(async () => {
      const rows = await this.db.select().from(suites).where(eq(suites.environmentId, environmentId)).orderBy(desc(suites.createdAt), asc(suites.id));
      return this.withCases(rows);
    });
  }

  /**
   * The organisation's suites on the repository that `trigger` starts, in any of its environments, oldest
   * first (then by id), so a delivery starts them in a defined order.
   */
  findForRepository(organizationId: string, repository: string, trigger: SuiteTrigger): Promise<OwnedSuite[]> {
    return this.guard(async () => {
      const rows = await this.db
        .select({ suite: suites, organizationId: environments.organizationId, projectId: environments.projectId })
        .from(suites)
        .innerJoin(environments, eq(environments.id, suites.environmentId))
        .where(
          and(
            eq(environments.organizationId, organizationId),
            sql`lower(${suites.repository}) = lower(${repository})`,
            sql`${suites.triggers} ? ${trigger}`,
          ),
        )
        .orderBy(asc(suites.createdAt), asc(suites.id));
      const withCases = await this.withCases(rows.map((row) => row.suite));
      return withCases.map((suite, index) => ({ ...suite, organizationId: rows[index]!.organizationId, projectId: rows[index]!.projectId }));
    });
  }

  private async withCases(rows: SuiteRow[]): Promise<Suite[]> {
    if (rows.length === 0) return [];
    const caseRows = await this.db.select().from(cases).where(inArray(cases.suiteId, rows.map((row) => row.id)));
    return rows.map((row) => toSuite(row, caseRows));
  }
}
