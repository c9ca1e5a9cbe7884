/**
 * BatchDO: one per batch (a suite run, or a batch triggered through the API). Its live log holds its items'
 * status changes (`{ runId, status }`) and ends with the batch's COMPLETED once every item is final. A suite
 * run started for a GitHub commit has one check run, which this object owns: updates go out from its alarm,
 * one at a time (so two cases ending together never race to create or update it), each sending the whole
 * current state; a failed update is retried with the alarm's backoff.
 */
import type { RunStatus } from "../../schema/run-states.ts";
import { withEngine } from "../runs/engine.ts";
import type { TrackedCheckRun } from "../runs/objects.ts";
import { LiveLog } from "./live-log.ts";

/** A batch's check run is updated at most this often while its cases run. */
const CHECK_RUN_UPDATE_MS = 500;

const CHECK_RUN_TIMER = "checkRun";

export class BatchDO extends LiveLog {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql.exec(
      `CREATE TABLE IF NOT EXISTS check_run (
         only INTEGER PRIMARY KEY CHECK (only = 1), tracked TEXT NOT NULL, check_run_id INTEGER, dirty INTEGER NOT NULL
       )`,
    );
  }

  /** Logs an item's status change; the check run, if there is one, is due for an update. */
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

  /** A suite run started for a GitHub commit: this object owns its one check run. Tracking again is a no-op. */
  async trackCheckRun(batchId: string, tracked: TrackedCheckRun): Promise<void> {
    this.initialise(batchId, "PENDING");
    this.sql.exec(
      "INSERT INTO check_run (only, tracked, dirty) VALUES (1, ?, 1) ON CONFLICT DO NOTHING",
      JSON.stringify(tracked),
    );
    await this.setTimer(CHECK_RUN_TIMER, Date.now());
  }

  /** Marks the check run stale and asks to be woken by `at` (an earlier wake-up stays). */
  private async checkRunChanged(at: number): Promise<void> {
    if (this.sql.exec("UPDATE check_run SET dirty = 1 RETURNING only").toArray().length === 0) return;
    const current = this.timerAt(CHECK_RUN_TIMER);
    if (current === undefined || current > at) await this.setTimer(CHECK_RUN_TIMER, at);
  }

  /** Its check run is all a batch's object wakes for. */
  protected override async onAlarm(): Promise<void> {
    const row = this.sql
      .exec<{ tracked: string; check_run_id: number | null; dirty: number }>(
        "SELECT tracked, check_run_id, dirty FROM check_run",
      )
      .toArray()[0];
    if (!row?.dirty) return;
    this.sql.exec("UPDATE check_run SET dirty = 0");
    const { runId: batchId } = this.snapshot();
    try {
      const checkRunId = await withEngine(this.env, (engine) =>
        engine.syncCheckRun(batchId, JSON.parse(row.tracked), row.check_run_id ?? undefined),
      );
      if (checkRunId !== undefined) this.sql.exec("UPDATE check_run SET check_run_id = ?", checkRunId);
    } catch (error) {
      this.sql.exec("UPDATE check_run SET dirty = 1");
      throw error;
    }
    // Changed while it was being sent: once more.
    if (this.sql.exec<{ dirty: number }>("SELECT dirty FROM check_run").one().dirty)
      await this.setTimer(CHECK_RUN_TIMER, Date.now());
  }

  /** A batch's subscriber starts its log at the batch's status in the store. */
  protected override beforeSubscribe(batchId: string, stored: RunStatus): void {
    this.initialise(batchId, stored);
  }
}
