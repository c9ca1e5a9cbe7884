/**
 * RunDO: one per run. Its live log holds the run's status changes and its executor's events (`status`,
 * `step`, `log`); its alarm wakes the engine when the run's delay is over, its heartbeat is overdue or one of
 * its waitpoints comes due. A run's object is created only when something needs it (a delay, a subscriber,
 * the executor, a finish): a fresh run's dispatch does not tell it, so the first call after logs the
 * dispatch's PENDING the object missed.
 */
import type { PostedEvent, WakeReason } from "../../schema/live.ts";
import { type RunStatus, canTransition, isFinal } from "../../schema/run-states.ts";
import { withEngine } from "../runs/engine.ts";
import { LiveLog } from "./live-log.ts";

/** What an object holds before the run's first dispatch (nothing, or a status from a subscriber or a delay). */
const UNDISPATCHED: readonly (RunStatus | undefined)[] = [undefined, "QUEUED", "DELAYED"];

/** Statuses a run leaves only once it was dispatched. */
const DISPATCHED: readonly RunStatus[] = ["PENDING", "DEQUEUED"];

/** The timer the engine's own answer sets: when it wants to look at the run again. */
const ENGINE_TIMER = "engine";

export class RunDO extends LiveLog {
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

  /** Several events in order, in one call (the executor's step events). */
  appendAll(events: PostedEvent[]): number {
    let seq = 0;
    for (const event of events) seq = this.append(event.type, event.data);
    return seq;
  }

  /**
   * Asks to be woken at `at` for `reason` (a delay's end, a heartbeat deadline, a waitpoint coming due). One
   * alarm serves them all: it is set for the earliest. A later call for the same reason replaces its time,
   * so heartbeats push their deadline back without moving an earlier waitpoint timeout. The engine names a
   * dispatched run (`runId`) whose heartbeat or waitpoint it watches: the first this object may hear of it.
   */
  async wakeAt(reason: WakeReason, at: number, runId?: string): Promise<void> {
    if (runId) this.logMissedDispatch(runId);
    await this.setTimer(reason, at);
  }

  /**
   * Something came due. The engine decides what, from the run's state in its store (timers are only hints),
   * and says when to look again.
   */
  protected override async onAlarm(): Promise<void> {
    const { runId } = this.snapshot();
    const next = await withEngine(this.env, (engine) => engine.wake(runId));
    if (next !== undefined) await this.setTimer(ENGINE_TIMER, next);
  }

  /** A subscriber's status from the store starts the log (a dispatched run's with its missed PENDING) or repairs it. */
  protected override beforeSubscribe(runId: string, stored: RunStatus): void {
    if (DISPATCHED.includes(stored)) this.logMissedDispatch(runId);
    this.initialise(runId, stored);
    this.reconcile(runId, stored);
  }
}
