import { sql } from "drizzle-orm";
import { inject, describe, expect, it } from "vitest";
import { migrateAll } from "../../scripts/migrate.ts";
import { connect } from "../../worker/store/database.ts";

const targets = {
  legacy: inject("legacyDatabaseUrl"),
  runops: inject("runopsDatabaseUrl"),
  wsProxy: inject("wsProxyUrl"),
};

async function describeDatabase(url: string) {
  const { db, close } = connect(url, { wsProxy: targets.wsProxy });
  try {
    const tables = await db.execute<{ name: string }>(
      sql`select table_name as name from information_schema.tables where table_schema = 'public' order by 1`,
    );
    const applied = await db.execute<{ count: number }>(
      sql`select count(*)::int as count from drizzle.__drizzle_migrations`,
    );
    const environments = tables.rows.some((t) => t.name === "environments")
      ? (await db.execute<{ count: number }>(sql`select count(*)::int as count from environments`)).rows[0]!.count
      : null;
    return { tables: tables.rows.map((t) => t.name), applied: applied.rows[0]!.count, environments };
  } finally {
    await close();
  }
}

describe("migrations", () => {
  it("create the control plane and the run tables in legacy, and only the run tables in runops", async () => {
    const legacy = await describeDatabase(targets.legacy);
    const runops = await describeDatabase(targets.runops);
    const runTables = ["batches", "run_waitpoints", "runs", "step_results", "waitpoints"];
    expect(runops.tables).toEqual(runTables);
    expect(legacy.tables).toEqual(
      expect.arrayContaining([
        ...runTables,
        "organizations",
        "projects",
        "environments",
        "suites",
        "cases",
        "github_installations",
        "webhook_deliveries",
      ]),
    );
  });

  it("applied a second time change nothing and keep the data", async () => {
    const before = [await describeDatabase(targets.legacy), await describeDatabase(targets.runops)];
    await migrateAll(targets);
    const after = [await describeDatabase(targets.legacy), await describeDatabase(targets.runops)];
    expect(after).toEqual(before);
    expect(before[0]!.environments).toBeGreaterThan(0);
  });
});
