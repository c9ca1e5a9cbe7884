/**
 * RunDO: one per run and one per batch, with SQLite storage. It holds the run's live state and an ordered
 * event log, so a subscriber that missed events can replay them by sequence number (DESIGN §5). Waitpoints,
 * alarms and WebSockets build on this log.
 */
import { DurableObject } from "cloudflare:workers";
import type { RunStatus } from "../../schema/contracts.ts";
import { withEngine } from "../runs/engine.ts";

export type RunEventType = "status" | "step" | "log" | "waitpoint";

export interface RunEvent {
  seq: number;
  type: RunEventType;
  data: unknown;
  at: string;
}

export interface RunSnapshot {
  runId: string;
  status: RunStatus;
  lastSeq: number;
}

export class RunDO extends DurableObject<Env> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(`
      CREATE TABLE IF NOT EXISTS run (only INTEGER PRIMARY KEY CHECK (only = 1), run_id TEXT NOT NULL, status TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY AUTOINCREMENT, type TEXT NOT NULL, data TEXT NOT NULL, at TEXT NOT NULL);
    `);
  }

  /**
   * Idempotent: a second initialise (e.g. a redelivered dispatch) keeps the state it finds. A DELAYED run
   * passes `wakeAt`, and the alarm admits it then.
   */
  async initialize(runId: string, status: RunStatus, wakeAt?: number): Promise<RunSnapshot> {
    this.sql.exec("INSERT INTO run (only, run_id, status) VALUES (1, ?, ?) ON CONFLICT DO NOTHING", runId, status);
    if (wakeAt !== undefined) await this.ctx.storage.setAlarm(wakeAt);
    return this.snapshot();
  }

  /** Records a status change the engine made in the owning store, as a `status` event. */
  setStatus(runId: string, status: RunStatus): number {
    this.sql.exec(
      "INSERT INTO run (only, run_id, status) VALUES (1, ?, ?) ON CONFLICT (only) DO UPDATE SET status = excluded.status",
      runId,
      status,
    );
    return this.append("status", { status });
  }

  /** A delayed run's time has come. A throw makes the runtime retry the alarm with backoff. */
  override async alarm(): Promise<void> {
    const { runId } = this.snapshot();
    await withEngine(this.env, (engine) => engine.admitDelayed(runId));
  }

  snapshot(): RunSnapshot {
    const row = this.sql.exec<{ run_id: string; status: RunStatus }>("SELECT run_id, status FROM run").toArray()[0];
    if (!row) throw new Error("RunDO not initialised");
    const { last } = this.sql.exec<{ last: number }>("SELECT coalesce(max(seq), 0) AS last FROM events").one();
    return { runId: row.run_id, status: row.status, lastSeq: last };
  }

  append(type: RunEventType, data: unknown): number {
    const { seq } = this.sql
      .exec<{ seq: number }>(
        "INSERT INTO events (type, data, at) VALUES (?, ?, ?) RETURNING seq",
        type,
        JSON.stringify(data),
        new Date().toISOString(),
      )
      .one();
    return seq;
  }

  eventsSince(seq: number): RunEvent[] {
    return this.sql
      .exec<{ seq: number; type: RunEventType; data: string; at: string }>(
        "SELECT seq, type, data, at FROM events WHERE seq > ? ORDER BY seq",
        seq,
      )
      .toArray()
      .map((row) => ({ ...row, data: JSON.parse(row.data) }));
  }
}
