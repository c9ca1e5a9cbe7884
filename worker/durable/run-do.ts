/**
 * RunDO: one per run and one per batch, with SQLite storage. It holds the subject's live status and an
 * ordered event log (`status`, `step`, `log`, `waitpoint`), and serves it over WebSockets with the
 * hibernation API (DESIGN §5): a snapshot on connect, the events after `since`, then every new event; the
 * sockets close once the subject reaches a final status. A batch's object logs its items' status changes
 * (`{ runId, status }`). A run's alarm wakes the engine when its delay is over, its heartbeat is overdue
 * or one of its waitpoints comes due. A run's object is created only when something needs it (a delay, a
 * subscriber, the executor, a finish): a fresh run's dispatch does not tell it, so the first call after logs
 * the dispatch's PENDING the object missed.
 */
import { DurableObject } from "cloudflare:workers";
import { withEngine } from "../runs/engine.ts";
import type { TrackedCheckRun } from "../runs/objects.ts";
import type { Audience, RunEvent, RunEventType, RunSnapshot, WakeReason } from "../../schema/live.ts";
import { type RunStatus, canTransition, isFinal } from "../../schema/run-states.ts";


/** A batch's check run is updated at most this often while its cases run. */
const CHECK_RUN_UPDATE_MS = 500;

/** What an object holds before the run's first dispatch (nothing, or a status from a subscriber or a delay). */
const UNDISPATCHED: readonly (RunStatus | undefined)[] = [undefined, "QUEUED", "DELAYED"];

/** Statuses a run leaves only once it was dispatched. */
const DISPATCHED: readonly RunStatus[] = ["PENDING", "DEQUEUED"];

/** Closing code and reason once nothing more will happen. */
const FINISHED = { code: 1000, reason: "finished" };

const REDACTED = "redacted";

/** An event's data as a browser's token may see it: every waitpoint output left out. */
export function withoutOutputs(type: RunEventType, data: unknown): unknown {
  if (!data || typeof data !== "object") return data;
  const omitOutput = ({ output: _, ...rest }: Record<string, unknown>) => rest;
  if (type === "waitpoint") return omitOutput(data as Record<string, unknown>);
  const { resumedBy } = data as { resumedBy?: unknown };
  if (!Array.isArray(resumedBy)) return data;
  return { ...data, resumedBy: resumedBy.map(omitOutput) };
}

export class RunDO extends DurableObject<Env> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(`
      CREATE TABLE IF NOT EXISTS run (only INTEGER PRIMARY KEY CHECK (only = 1), run_id TEXT NOT NULL, status TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY AUTOINCREMENT, type TEXT NOT NULL, data TEXT NOT NULL, at TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS timers (reason TEXT PRIMARY KEY, at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS check_run (only INTEGER PRIMARY KEY CHECK (only = 1), tracked TEXT NOT NULL, check_run_id INTEGER, dirty INTEGER NOT NULL);
    `);
  }

  /**
   * Records a status change the engine made in the owning store, as a `status` event (with `detail`, e.g.
   * the waitpoints a run resumed on), and tells every subscriber. A late or repeated report that the
   * transition table does not allow from the status held here (a redelivered dispatch after the run
   * started) changes nothing. A run that left `previous` PENDING or DEQUEUED was dispatched.
   */
  setStatus(
    runId: string,
    status: RunStatus,
    detail?: Record<string, unknown>,
    previous?: RunStatus,
  ): number | undefined {
    if (previous && DISPATCHED.includes(previous)) this.logMissedDispatch(runId);
    const current = this.currentStatus();
    if (current && !canTransition(current, status)) return undefined;
    return this.writeStatus(runId, status, detail);
  }

  /**
   * The repair path for a crash between the owning store's write and this object hearing of it: a final
   * status read from the store replaces whatever this object still holds. Only final statuses, which
   * nothing can follow, so a stale read can never move the log backwards.
   */
  reconcile(runId: string, storedStatus: RunStatus): void {
    const current = this.currentStatus();
    if (current === storedStatus || !isFinal(storedStatus) || (current && isFinal(current))) return;
    this.writeStatus(runId, storedStatus, { repaired: true });
  }

  /** The run was dispatched: an object that came to life after it logs the PENDING its dispatch did not write. */
  private logMissedDispatch(runId: string): void {
    if (UNDISPATCHED.includes(this.currentStatus())) this.writeStatus(runId, "PENDING");
  }

  private currentStatus(): RunStatus | undefined {
    return this.sql.exec<{ status: RunStatus }>("SELECT status FROM run").toArray()[0]?.status;
  }

  private writeStatus(runId: string, status: RunStatus, detail?: Record<string, unknown>): number {
    this.sql.exec(
      "INSERT INTO run (only, run_id, status) VALUES (1, ?, ?) ON CONFLICT (only) DO UPDATE SET status = excluded.status",
      runId,
      status,
    );
    const seq = this.append("status", { status, ...detail });
    if (isFinal(status)) this.finish();
    return seq;
  }

  /** A batch's object hears each item's status changes, and ends when every item has. */
  async recordItemStatus(runId: string, status: RunStatus): Promise<number> {
    const seq = this.append("status", { runId, status });
    await this.checkRunChanged(Date.now() + CHECK_RUN_UPDATE_MS);
    return seq;
  }

  /** Every item of the batch is final: the batch is COMPLETED and its subscribers are let go. */
  async completeBatch(batchId: string): Promise<void> {
    if (this.currentStatus() === "COMPLETED") return; // the last two items ended together
    this.writeStatus(batchId, "COMPLETED");
    await this.checkRunChanged(Date.now());
  }

  /**
   * A suite run started for a GitHub commit: this batch's object owns its one check run. Updates go out from
   * the alarm, one at a time (so two cases ending together never race to create or update it), and each
   * sends the whole current state; a failed update is retried with the alarm's backoff.
   */
  async trackCheckRun(batchId: string, tracked: TrackedCheckRun): Promise<void> {
    this.sql.exec("INSERT INTO run (only, run_id, status) VALUES (1, ?, 'PENDING') ON CONFLICT DO NOTHING", batchId);
    this.sql.exec("INSERT INTO check_run (only, tracked, dirty) VALUES (1, ?, 1) ON CONFLICT DO NOTHING", JSON.stringify(tracked));
    await this.wakeAt("checkRun", Date.now());
  }

  /** Marks the check run stale and asks to be woken by `at` (an earlier wake-up stays). */
  private async checkRunChanged(at: number): Promise<void> {
    if (this.sql.exec("UPDATE check_run SET dirty = 1 RETURNING only").toArray().length === 0) return;
    const current = this.sql.exec<{ at: number }>("SELECT at FROM timers WHERE reason = 'checkRun'").toArray()[0]?.at;
    if (current === undefined || current > at) await this.wakeAt("checkRun", at);
  }

  private async syncCheckRun(): Promise<void> {
    const row = this.sql.exec<{ tracked: string; check_run_id: number | null; dirty: number }>("SELECT tracked, check_run_id, dirty FROM check_run").toArray()[0];
    if (!row?.dirty) return;
    this.sql.exec("UPDATE check_run SET dirty = 0");
    const { runId: batchId } = this.snapshot();
    try {
      const checkRunId = await withEngine(this.env, (engine) => engine.syncCheckRun(batchId, JSON.parse(row.tracked), row.check_run_id ?? undefined));
      if (checkRunId !== undefined) this.sql.exec("UPDATE check_run SET check_run_id = ?", checkRunId);
    } catch (error) {
      this.sql.exec("UPDATE check_run SET dirty = 1");
      throw error;
    }
    // Changed while it was being sent: once more.
    if (this.sql.exec<{ dirty: number }>("SELECT dirty FROM check_run").one().dirty) await this.wakeAt("checkRun", Date.now());
  }

  /** Subscribers are let go and the alarm has nothing left to watch. */
  private finish(): void {
    for (const socket of this.ctx.getWebSockets()) socket.close(FINISHED.code, FINISHED.reason);
    this.sql.exec("DELETE FROM timers");
  }

  /**
   * Asks to be woken at `at` for `reason` (a delay's end, a heartbeat deadline, a waitpoint coming due). One
   * alarm serves them all: it is set for the earliest. A later call for the same reason replaces its time,
   * so heartbeats push their deadline back without moving an earlier waitpoint timeout. The engine names a
   * dispatched run (`runId`) whose heartbeat or waitpoint it watches: the first this object may hear of it.
   */
  async wakeAt(reason: WakeReason | "checkRun", at: number, runId?: string): Promise<void> {
    if (runId) this.logMissedDispatch(runId);
    this.sql.exec("INSERT INTO timers (reason, at) VALUES (?, ?) ON CONFLICT (reason) DO UPDATE SET at = excluded.at", reason, at);
    await this.arm();
  }

  private async arm(): Promise<void> {
    const next = this.sql.exec<{ at: number | null }>("SELECT min(at) AS at FROM timers").one().at;
    if (next === null) await this.ctx.storage.deleteAlarm();
    else if ((await this.ctx.storage.getAlarm()) !== next) await this.ctx.storage.setAlarm(next);
  }

  /**
   * Something came due. The engine decides what, from the run's state in its store (timers are only hints),
   * and says when to look again. A throw makes the runtime retry the alarm with backoff.
   */
  override async alarm(): Promise<void> {
    this.sql.exec("DELETE FROM timers WHERE at <= ?", Date.now());
    if (this.sql.exec("SELECT only FROM check_run").toArray().length > 0) {
      await this.syncCheckRun(); // a batch's object: its check run is all it wakes for
      return this.arm();
    }
    const { runId } = this.snapshot();
    const next = await withEngine(this.env, (engine) => engine.wake(runId));
    if (next !== undefined) this.sql.exec("INSERT INTO timers (reason, at) VALUES ('engine', ?) ON CONFLICT (reason) DO UPDATE SET at = excluded.at", next);
    await this.arm();
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
    for (const socket of this.ctx.getWebSockets("full")) socket.send(message);
    const redacted = this.ctx.getWebSockets(REDACTED);
    if (redacted.length > 0) {
      const publicMessage = JSON.stringify({ seq, type, data: withoutOutputs(type, data), at });
      for (const socket of redacted) socket.send(publicMessage);
    }
    return seq;
  }

  /** Several events in order, in one call (the executor's step events). */
  appendAll(events: { type: RunEventType; data: unknown }[]): number {
    let seq = 0;
    for (const event of events) seq = this.append(event.type, event.data);
    return seq;
  }

  eventsSince(seq: number): RunEvent[] {
    return this.sql
      .exec<{ seq: number; type: RunEventType; data: string; at: string }>(
        "SELECT seq, type, data, at FROM events WHERE seq > ? ORDER BY seq",
        seq,
      )
      .toArray()
      .map((row) => ({ ...row, data: JSON.parse(row.data) }) as RunEvent);
  }

  /**
   * A live subscription, already authenticated by the Worker's route. `status` is the subject's status in
   * its store: the start if this object has heard nothing yet (a run still QUEUED; a dispatched run's log
   * starts with the PENDING it missed), a repair if it is final.
   */
  override fetch(request: Request): Response {
    const url = new URL(request.url);
    const since = Number(url.searchParams.get("since") ?? 0);
    const runId = url.searchParams.get("id") ?? "";
    const stored = (url.searchParams.get("status") ?? "PENDING") as RunStatus;
    const audience = (url.searchParams.get("audience") ?? "page") as Audience;
    if (url.searchParams.get("kind") === "run" && DISPATCHED.includes(stored)) this.logMissedDispatch(runId);
    this.sql.exec("INSERT INTO run (only, run_id, status) VALUES (1, ?, ?) ON CONFLICT DO NOTHING", runId, stored);
    this.reconcile(runId, stored);
    const { 0: client, 1: server } = new WebSocketPair();
    this.ctx.acceptWebSocket(server, [audience === "full" ? "full" : REDACTED]);
    const snapshot = this.snapshot();
    server.send(JSON.stringify({ type: "snapshot", ...snapshot }));
    const finished = isFinal(snapshot.status);
    if (!(finished && audience === "page")) {
      for (const { data, ...event } of this.eventsSince(since)) {
        server.send(JSON.stringify({ ...event, data: audience === "full" ? data : withoutOutputs(event.type, data) }));
      }
    }
    if (finished) server.close(FINISHED.code, FINISHED.reason);
    return new Response(null, { status: 101, webSocket: client });
  }

  override webSocketMessage(socket: WebSocket, message: string | ArrayBuffer): void {
    if (message === "ping") socket.send("pong");
  }

  override webSocketClose(socket: WebSocket, code: number, reason: string): void {
    socket.close(sendableCloseCode(code), reason);
  }
}

/**
 * The code to answer a client's close with: its own, unless it is one that may only be reported, never sent
 * (1005 "no code", 1006 "abnormal", 1015 "TLS"), or outside the ranges a close frame may carry.
 */
export function sendableCloseCode(code: number): number {
  const sendable = (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
  return sendable ? code : 1000;
}
