import { inArray } from "drizzle-orm";
import { inject } from "vitest";
import * as runOps from "../../../schema/run-ops.ts";
import { connect } from "../../../worker/store/database.ts";
import { mintCuid } from "../../../worker/store/ids.ts";
import type { Owner } from "../../../worker/store/run-store.ts";

export { CLOSED_PORT_URL, withStore } from "../support.ts";

/** A fresh tenant per test, so tests never see each other's rows. */
export function newOwner(): Owner {
  return { organizationId: mintCuid(), projectId: mintCuid(), environmentId: mintCuid() };
}

export const SPLIT_ON = { RUN_OPS_SPLIT_ENABLED: "true" };
export const SPLIT_OFF = { RUN_OPS_SPLIT_ENABLED: "false" };

/** Which database holds each of these ids, read with a bare client (not through the store under test). */
export async function whereAre(table: "runs" | "batches" | "waitpoints", ids: string[]) {
  const located: Record<string, string[]> = { legacy: [], new: [] };
  for (const [name, url] of [
    ["legacy", inject("legacyDatabaseUrl")],
    ["new", inject("runopsDatabaseUrl")],
  ] as const) {
    const { db, close } = connect(url, { wsProxy: inject("wsProxyUrl") });
    try {
      const rows = await db.select({ id: runOps[table].id }).from(runOps[table]).where(inArray(runOps[table].id, ids));
      located[name] = rows.map((row) => row.id).sort();
    } finally {
      await close();
    }
  }
  return located;
}
