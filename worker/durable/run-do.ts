/**
 * RunDO: one per run and one per batch, with SQLite storage. It holds the subject's live status and an
 * ordered event log (`status`, `step`, `log`, `waitpoint`), and serves it over WebSockets with the
 * hibernation API (DESIGN §5): a snapshot on connect, the events after `since`, then every new event; the
 * sockets close once the subject reaches a final status. A batch's object logs its items' status changes
 * (`{ runId, status }`). A run's alarm admits it when its delay is over.
 */
import { DurableObject } from "cloudflare:workers";
import type { RunStatus } from "../../schema/contracts.ts";
import { withEngine } from "../runs/engine.ts";
import { canTransition, isFinal } from "../runs/transitions.ts";

export type RunEventType = "status" | "step" | "log" | "waitpoint";

export interface RunEvent {
  seq: number;
  type: RunEventType;
  data: unknown;
  at: string;
}

export interface RunSnapshot {
  /** The run's (or batch's) internal id. */
  runId: string;
  status: RunStatus;
  lastSeq: number;
}

/** Closing code and reason once nothing more will happen. */
const FINISHED = { code: 1000, reason: "finished" };

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
   * Records a status change the engine made in the owning store, as a `status` event, and tells every
   * subscriber. A late or repeated report that the transition table does not allow from the status held
   * here (a redelivered dispatch after the run started) changes nothing. A DELAYED run passes `wakeAt`: the
   * alarm admits it then.
   */
  async setStatus(runId: string, status: RunStatus, wakeAt?: number): Promise<number | undefined> {
    const current = this.sql.exec<{ status: RunStatus }>("SELECT status FROM run").toArray()[0]?.status;
    if (current && !canTransition(current, status)) return undefined;
    this.sql.exec(
      "INSERT INTO run (only, run_id, status) VALUES (1, ?, ?) ON CONFLICT (only) DO UPDATE SET status = excluded.status",
      runId,
      status,
    );
    if (wakeAt !== undefined) await this.ctx.storage.setAlarm(wakeAt);
    const seq = this.append("status", { status });
    if (isFinal(status)) for (const socket of this.ctx.getWebSockets()) socket.close(FINISHED.code, FINISHED.reason);
    return seq;
  }

  /** A batch's object hears each item's status changes, and ends when every item has. */
  recordItemStatus(runId: string, status: RunStatus): number {
    return this.append("status", { runId, status });
  }

  /** Every item of the batch is final: the batch is COMPLETED and its subscribers are let go. */
  completeBatch(batchId: string): void {
    const current = this.sql.exec<{ status: string }>("SELECT status FROM run").toArray()[0]?.status;
    if (current === "COMPLETED") return; // the last two items ended together
    this.sql.exec(
      "INSERT INTO run (only, run_id, status) VALUES (1, ?, 'COMPLETED') ON CONFLICT (only) DO UPDATE SET status = 'COMPLETED'",
      batchId,
    );
    this.append("status", { status: "COMPLETED" });
    for (const socket of this.ctx.getWebSockets()) socket.close(FINISHED.code, FINISHED.reason);
  }

  /** Wakes this object at `at`: the heartbeat watchdog, pushed back by every heartbeat. */
  async watchUntil(at: number): Promise<void> {
    await this.ctx.storage.setAlarm(at);
  }

  /**
   * A delayed run's time has come, or its heartbeat deadline: the engine decides, from the run's status in
   * its store, and may ask to be woken again. A throw makes the runtime retry the alarm with backoff.
   */
  override async alarm(): Promise<void> {
    const { runId } = this.snapshot();
    const next = await withEngine(this.env, (engine) => engine.wake(runId));
    if (next !== undefined) await this.ctx.storage.setAlarm(next);
  }

  snapshot(): RunSnapshot {
    const row = this.sql.exec<{ run_id: string; status: RunStatus }>("SELECT run_id, status FROM run").toArray()[0];
    if (!row) throw new Error("RunDO not initialised");
    const { last } = this.sql.exec<{ last: number }>("SELECT coalesce(max(seq), 0) AS last FROM events").one();
    return { runId: row.run_id, status: row.status, lastSeq: last };
  }

  append(type: RunEventType, data: unknown): number {
    const at = new Date().toISOString();
    const text = JSON.stringify(data);
    const { seq } = this.sql.exec<{ seq: number }>("INSERT INTO events (type, data, at) VALUES (?, ?, ?) RETURNING seq", type, text, at).one();
    const message = JSON.stringify({ seq, type, data, at });
    for (const socket of this.ctx.getWebSockets()) socket.send(message);
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

  /**
   * A live subscription, already authenticated by the Worker's route. `status` is the subject's status in
   * its store, used only if this object has heard nothing yet (a run still QUEUED).
   */
  override fetch(request: Request): Response {
    const url = new URL(request.url);
    const since = Number(url.searchParams.get("since") ?? 0);
    this.sql.exec(
      "INSERT INTO run (only, run_id, status) VALUES (1, ?, ?) ON CONFLICT DO NOTHING",
      url.searchParams.get("id") ?? "",
      url.searchParams.get("status") ?? "PENDING",
    );
    const { 0: client, 1: server } = new WebSocketPair();
    this.ctx.acceptWebSocket(server);
    const snapshot = this.snapshot();
    server.send(JSON.stringify({ type: "snapshot", ...snapshot }));
    for (const event of this.eventsSince(since)) server.send(JSON.stringify(event));
    if (isFinal(snapshot.status)) server.close(FINISHED.code, FINISHED.reason);
    return new Response(null, { status: 101, webSocket: client });
  }

  override webSocketMessage(socket: WebSocket, message: string | ArrayBuffer): void {
    if (message === "ping") socket.send("pong");
  }

  override webSocketClose(socket: WebSocket, code: number, reason: string): void {
    // 1005 means "no code": it may not be sent back.
    socket.close(code === 1005 ? 1000 : code, reason);
  }
}
