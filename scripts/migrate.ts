/**
 * Applies the committed SQL migrations to both databases. Idempotent: drizzle records what it applied in
 * `drizzle.__drizzle_migrations` and skips it next time.
 *
 *   LEGACY_DATABASE_URL=… RUNOPS_DATABASE_URL=… npm run db:migrate      (against Neon: both branches)
 */
import { fileURLToPath } from "node:url";
import { neonConfig } from "@neondatabase/serverless";
import { migrate } from "drizzle-orm/neon-serverless/migrator";
import ws from "ws";
import { connect } from "../worker/store/database.ts";

neonConfig.webSocketConstructor = ws;

export const MIGRATIONS = {
  legacy: fileURLToPath(new URL("../schema/migrations/legacy", import.meta.url)),
  runops: fileURLToPath(new URL("../schema/migrations/runops", import.meta.url)),
};

export interface MigrateTargets {
  legacy: string;
  runops?: string;
  wsProxy?: string;
}

export async function migrateAll({ legacy, runops, wsProxy }: MigrateTargets): Promise<void> {
  const targets: [string, string][] = [[legacy, MIGRATIONS.legacy]];
  if (runops) targets.push([runops, MIGRATIONS.runops]);
  for (const [url, migrationsFolder] of targets) {
    const { db, close } = connect(url, { wsProxy });
    try {
      await migrate(db, { migrationsFolder });
    } finally {
      await close();
    }
  }
}

if (import.meta.main) {
  const legacy = process.env.LEGACY_DATABASE_URL;
  if (!legacy) {
    console.error("LEGACY_DATABASE_URL is required (and RUNOPS_DATABASE_URL to migrate the run-ops branch).");
    process.exit(1);
  }
  await migrateAll({ legacy, runops: process.env.RUNOPS_DATABASE_URL, wsProxy: process.env.DATABASE_WS_PROXY });
  console.log("migrations applied");
}
