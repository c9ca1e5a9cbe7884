/**
 * What a run's object and a batch's object share (DESIGN §5): the subject's status and an ordered event log in
 * SQLite, served over WebSockets with the hibernation API (a snapshot on connect, the events after `since`,
 * then every new event; the sockets close once the subject reaches a final status), and one alarm over a
 * table of timers, set for the earliest.
 */
import { DurableObject } from "cloudflare:workers";
import type { Audience, RunEvent, RunEventType, RunSnapshot } from "../../schema/live.ts";
import { type RunStatus, isFinal } from "../../schema/run-states.ts";

/** Closing code and reason once nothing more will happen. */
const FINISHED = { code: 1000, reason: "finished" };

/** The tag of sockets that see events without waitpoint outputs (`public` and `page` audiences). */
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

export abstract class LiveLog extends DurableObject<Env> {
  protected readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(`
      CREATE TABLE IF NOT EXISTS run (
        only INTEGER PRIMARY KEY CHECK (only = 1), run_id TEXT NOT NULL, status TEXT NOT NULL
      );
      CREATE TABLE IF NOT EXISTS events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, type TEXT NOT NULL, data TEXT NOT NULL, at TEXT NOT NULL
      );
      CREATE TABLE IF NOT EXISTS timers (reason TEXT PRIMARY KEY, at INTEGER NOT NULL);
    `);
  }

  /** What came due, once the due timers are gone; the alarm is set again for whatever is left. */
  protected abstract onAlarm(): Promise<void>;

  /** A subscriber arrives with the subject's status in its store (`stored`), before the object answers it. */
  protected abstract beforeSubscribe(subjectId: string, stored: RunStatus): void;

  /** The object learns its subject, at `status`, unless it knows it already. */
  protected initialise(subjectId: string, status: RunStatus): void {
    this.sql.exec("INSERT INTO run (only, run_id, status) VALUES (1, ?, ?) ON CONFLICT DO NOTHING", subjectId, status);
  }

  protected currentStatus(): RunStatus | undefined {
    return this.sql.exec<{ status: RunStatus }>("SELECT status FROM run").toArray()[0]?.status;
  }

  /** The subject's status becomes `status`, logged as a `status` event; a final one lets the subscribers go. */
  protected writeStatus(subjectId: string, status: RunStatus, detail?: Record<string, unknown>): number {
    this.sql.exec(
      "INSERT INTO run (only, run_id, status) VALUES (1, ?, ?) " +
        "ON CONFLICT (only) DO UPDATE SET status = excluded.status",
      subjectId,
      status,
    );
    const seq = this.append("status", { status, ...detail });
    if (isFinal(status)) this.finish();
    return seq;
  }

  /** Subscribers are let go and the alarm has nothing left to watch. */
  private finish(): void {
    for (const socket of this.ctx.getWebSockets()) socket.close(FINISHED.code, FINISHED.reason);
    this.sql.exec("DELETE FROM timers");
  }

  /** Asks to be woken at `at` for `reason`; a later call for the same reason replaces its time. */
  protected async setTimer(reason: string, at: number): Promise<void> {
    this.sql.exec(
      "INSERT INTO timers (reason, at) VALUES (?, ?) ON CONFLICT (reason) DO UPDATE SET at = excluded.at",
      reason,
      at,
    );
    await this.arm();
  }

  protected timerAt(reason: string): number | undefined {
    return this.sql.exec<{ at: number }>("SELECT at FROM timers WHERE reason = ?", reason).toArray()[0]?.at;
  }

  private async arm(): Promise<void> {
    const next = this.sql.exec<{ at: number | null }>("SELECT min(at) AS at FROM timers").one().at;
    if (next === null) await this.ctx.storage.deleteAlarm();
    else if ((await this.ctx.storage.getAlarm()) !== next) await this.ctx.storage.setAlarm(next);
  }

  /** A throw makes the runtime retry the alarm with backoff. */
  override async alarm(): Promise<void> {
    this.sql.exec("DELETE FROM timers WHERE at <= ?", Date.now());
    await this.onAlarm();
    await this.arm();
  }

  snapshot(): RunSnapshot {
    const row = this.sql.exec<{ run_id: string; status: RunStatus }>("SELECT run_id, status FROM run").toArray()[0];
    if (!row) throw new Error(`${this.constructor.name} not initialised`);
    const { last } = this.sql.exec<{ last: number }>("SELECT coalesce(max(seq), 0) AS last FROM events").one();
    return { runId: row.run_id, status: row.status, lastSeq: last };
  }

  append(type: RunEventType, data: unknown): number {
    const at = new Date().toISOString();
    const text = JSON.stringify(data);
    const { seq } = this.sql
      .exec<{ seq: number }>("INSERT INTO events (type, data, at) VALUES (?, ?, ?) RETURNING seq", type, text, at)
      .one();
    const message = JSON.stringify({ seq, type, data, at });
    for (const socket of this.ctx.getWebSockets("full")) socket.send(message);
    const redacted = this.ctx.getWebSockets(REDACTED);
    if (redacted.length > 0) {
      const publicMessage = JSON.stringify({ seq, type, data: withoutOutputs(type, data), at });
      for (const socket of redacted) socket.send(publicMessage);
    }
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
   * its store: the start if this object has heard nothing yet, a repair if it is final.
   */
  override fetch(request: Request): Response {
    const url = new URL(request.url);
    const since = Number(url.searchParams.get("since") ?? 0);
    const subjectId = url.searchParams.get("id") ?? "";
    const stored = (url.searchParams.get("status") ?? "PENDING") as RunStatus;
    const audience = (url.searchParams.get("audience") ?? "page") as Audience;
    this.beforeSubscribe(subjectId, stored);
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
