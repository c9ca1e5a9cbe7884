/**
 * Waitpoints (DESIGN §4): tokens created and completed through the API or a callback URL, datetimes, and a
 * parent's wait on a child run or batch. An executing run blocks on a set of them and is WAITING until the
 * last completes, then resumes (EXECUTING) in the executor that still holds it. Completing is idempotent:
 * the first output wins. Due datetimes and token timeouts fire from the run's RunDO alarm; a token past its
 * timeout is also timed out the first time anyone reads it.
 */
import { type RunStatus, isFinal } from "../../schema/run-states.ts";
import { ProblemError, notFound } from "../problem.ts";
import { toFriendlyId } from "../store/ids.ts";
import type { Created, NewWaitpoint, Owner, Run, Waitpoint, WaitpointResult } from "../store/run-store.ts";
import type { EngineDeps } from "./deps.ts";
import type { RunFinished } from "./run-finished.ts";
import { publishStatus, wakeRunAt } from "./live.ts";
import { idempotencyExpiry, ownerOf } from "./record.ts";

/** Waitpoints read and write runs and tell the runs' objects (status, alarms). */
type WaitpointDeps = Pick<EngineDeps, "runs" | "objects">;

const TIMED_OUT: WaitpointResult = { status: "TIMED_OUT", output: { ok: false }, outputIsError: true };

/** When a WAITING waitpoint comes due on its own: a datetime's time, a token's timeout. */
const dueAt = (waitpoint: Waitpoint) =>
  (waitpoint.type === "DATETIME" ? waitpoint.completeAfter : waitpoint.timeoutAt)?.getTime();

const resultWhenDue = (waitpoint: Waitpoint): WaitpointResult =>
  waitpoint.type === "DATETIME" ? { status: "COMPLETED", output: { ok: true }, outputIsError: false } : TIMED_OUT;

export const presentWaitpoint = (waitpoint: Waitpoint) => ({
  id: toFriendlyId("waitpoint", waitpoint.id),
  type: waitpoint.type,
  status: waitpoint.status,
  output: waitpoint.output,
  outputIsError: waitpoint.outputIsError,
  tags: waitpoint.tags,
  createdAt: waitpoint.createdAt.toISOString(),
  completedAt: waitpoint.completedAt?.toISOString() ?? null,
  timeoutAt: waitpoint.timeoutAt?.toISOString() ?? null,
});

export function createToken(
  deps: WaitpointDeps,
  owner: Owner,
  { timeout, idempotencyKey, tags }: { timeout?: Date; idempotencyKey?: string; tags?: string[] },
): Promise<Created<Waitpoint>> {
  return deps.runs.createWaitpoint({
    ...ownerOf(owner),
    type: "TOKEN",
    timeoutAt: timeout,
    idempotencyKey,
    idempotencyKeyExpiresAt: idempotencyExpiry(idempotencyKey),
    tags,
  });
}

/** The waitpoint as it stands now: one past its time completes on the way. */
async function readWaitpoint(deps: WaitpointDeps, environmentId: string, id: string): Promise<Waitpoint | undefined> {
  const waitpoint = await deps.runs.findWaitpoint(environmentId, id);
  const due = waitpoint?.status === "WAITING" ? dueAt(waitpoint) : undefined;
  if (waitpoint && due !== undefined && due <= Date.now())
    return completeWaitpoint(deps, waitpoint, resultWhenDue(waitpoint));
  return waitpoint;
}

/**
 * A TOKEN waitpoint as it stands now. DATETIME and RUN waitpoints belong to the runs that wait on them: to a
 * client they do not exist as tokens.
 */
export async function readToken(
  deps: WaitpointDeps,
  environmentId: string,
  id: string,
): Promise<Waitpoint | undefined> {
  const waitpoint = await readWaitpoint(deps, environmentId, id);
  return waitpoint?.type === "TOKEN" ? waitpoint : undefined;
}

/** Completes the token with `output` unless something (a completion, its timeout) got there first. */
export async function completeToken(
  deps: WaitpointDeps,
  environmentId: string,
  id: string,
  output: unknown,
): Promise<Waitpoint | undefined> {
  const current = await readToken(deps, environmentId, id);
  if (current?.status !== "WAITING") return current;
  return completeWaitpoint(deps, current, { status: "COMPLETED", output, outputIsError: false });
}

/** The one way a waitpoint completes: the first completion wins, and the runs it was blocking may resume. */
async function completeWaitpoint(
  deps: WaitpointDeps,
  waitpoint: Waitpoint,
  result: WaitpointResult,
): Promise<Waitpoint> {
  const completion = await deps.runs.completeWaitpoint(waitpoint.environmentId, waitpoint.id, result);
  if (!completion) return waitpoint;
  if (completion.completedNow) {
    const blocked = await deps.runs.findRunsBlockedBy(waitpoint.id);
    await Promise.all(blocked.map((run) => resumeIfUnblocked(deps, run)));
  }
  return completion.waitpoint;
}

/** What an executing run waits on: existing tokens, a point in time, or its own child runs or batch. */
export interface WaitRequest {
  tokens?: string[];
  until?: Date;
  runs?: string[];
  batch?: string;
}

/**
 * Blocks an EXECUTING run on the waitpoints of `request` and makes it WAITING, or resumes it at once when
 * they are all complete already. Block edges are written before the status changes, and both sides check
 * after their own write, so a completion racing the wait is never missed.
 */
export async function waitRun(
  deps: WaitpointDeps,
  run: Run,
  request: WaitRequest,
): Promise<{ run: Run; seq?: number; waitpoints: Waitpoint[] }> {
  const waitpoints = await resolveWaitpoints(deps, run, request);
  await deps.runs.replaceBlockers(
    run.id,
    waitpoints.map((waitpoint) => waitpoint.id),
  );
  const waiting = await deps.runs.updateRun(run.id, { status: "WAITING" }, ["EXECUTING"], run.attempt);
  if (!waiting)
    throw new ProblemError({
      status: 409,
      title: "Conflict",
      detail: `The run is ${run.status}; only an executing run can wait`,
    });
  const seq = await publishStatus(deps, waiting, {
    waitingOn: waitpoints.map((waitpoint) => toFriendlyId("waitpoint", waitpoint.id)),
  });
  const resumed = await resumeIfUnblocked(deps, waiting);
  if (resumed) return { run: resumed, waitpoints: await refresh(deps, resumed, waitpoints) };
  const next = nextDue(waitpoints);
  if (next !== undefined) await wakeRunAt(deps, waiting, "waitpoints", next);
  return { run: waiting, seq, waitpoints: await refresh(deps, waiting, waitpoints) };
}

/** The waitpoints as they stand now, in the order asked for. */
async function refresh(deps: WaitpointDeps, run: Run, waitpoints: Waitpoint[]): Promise<Waitpoint[]> {
  const current = await deps.runs.findBlockers(run.id);
  return waitpoints.map((waitpoint) => current.find((fresh) => fresh.id === waitpoint.id) ?? waitpoint);
}

async function resolveWaitpoints(
  deps: WaitpointDeps,
  run: Run,
  { tokens = [], until, runs = [], batch }: WaitRequest,
): Promise<Waitpoint[]> {
  const owned = (fields: Omit<NewWaitpoint, keyof Owner | "ownerRunId">) =>
    deps.runs.createWaitpoint({ ...ownerOf(run), ownerRunId: run.id, ...fields }).then((created) => created.record);
  const resolved: Waitpoint[] = [];
  for (const id of tokens) {
    const token = await readToken(deps, run.environmentId, id);
    if (!token) throw notFound(`Waitpoint ${toFriendlyId("waitpoint", id)}`);
    resolved.push(token);
  }
  if (until) {
    const datetime = await owned({ type: "DATETIME", completeAfter: until });
    resolved.push(
      until.getTime() <= Date.now() ? await completeWaitpoint(deps, datetime, resultWhenDue(datetime)) : datetime,
    );
  }
  for (const childId of runs) {
    const child = await deps.runs.findRun(run.environmentId, childId, { fresh: true });
    if (child?.parentRunId !== run.id) throw notFound(`Child run ${toFriendlyId("run", childId)}`);
    const waitpoint = await owned({ type: "RUN", completedByRunId: child.id });
    resolved.push(isFinal(child.status) ? await completeWaitpoint(deps, waitpoint, childResult(child)) : waitpoint);
  }
  if (batch) {
    const found = await deps.runs.findBatch(run.environmentId, batch, { fresh: true });
    if (found?.batch.parentRunId !== run.id) throw notFound(`Child batch ${toFriendlyId("batch", batch)}`);
    const waitpoint = await owned({ type: "RUN", completedByBatchId: batch });
    const done = found.runs.every((item) => isFinal(item.status));
    resolved.push(done ? await completeWaitpoint(deps, waitpoint, batchResult(found.runs)) : waitpoint);
  }
  return resolved;
}

const nextDue = (waitpoints: Waitpoint[]) =>
  waitpoints
    .filter((waitpoint) => waitpoint.status === "WAITING")
    .map(dueAt)
    .filter((at) => at !== undefined)
    .reduce<number | undefined>((earliest, at) => (earliest === undefined || at < earliest ? at : earliest), undefined);

/** Resumes a WAITING run whose blocking waitpoints are all complete, telling its executor what they returned. */
async function resumeIfUnblocked(deps: WaitpointDeps, run: Run): Promise<Run | undefined> {
  const blockers = await deps.runs.findBlockers(run.id);
  if (blockers.some((waitpoint) => waitpoint.status === "WAITING")) return undefined;
  const resumed = await deps.runs.updateRun(run.id, { status: "EXECUTING" }, ["WAITING"], run.attempt);
  if (resumed) await publishStatus(deps, resumed, { resumedBy: blockers.map(presentWaitpoint) });
  return resumed;
}

/**
 * The run's alarm, for a WAITING run: completes its waitpoints that came due (which resumes it once none
 * is left) and returns when the next one does.
 */
export async function wakeWaitingRun(deps: WaitpointDeps, run: Run, now = Date.now()): Promise<number | undefined> {
  if (run.status !== "WAITING") return undefined;
  const blockers = await deps.runs.findBlockers(run.id);
  const due = blockers.filter((waitpoint) => waitpoint.status === "WAITING" && (dueAt(waitpoint) ?? Infinity) <= now);
  await Promise.all(due.map((waitpoint) => completeWaitpoint(deps, waitpoint, resultWhenDue(waitpoint))));
  // Nothing came due but nothing blocks either: a resume that was lost on the way.
  if (due.length === 0) await resumeIfUnblocked(deps, run);
  return nextDue(blockers.filter((waitpoint) => !due.includes(waitpoint)));
}

const childResult = (child: Run): WaitpointResult => ({
  status: "COMPLETED",
  output: {
    ok: child.status === "COMPLETED",
    id: toFriendlyId("run", child.id),
    status: child.status,
    output: child.output,
    error: child.error,
  },
  outputIsError: child.status !== "COMPLETED",
});

const batchResult = (items: Run[]): WaitpointResult => {
  const ok = items.every((item) => item.status === "COMPLETED");
  const runs = items.map((item) => ({
    id: toFriendlyId("run", item.id),
    status: item.status as RunStatus,
    output: item.output,
    error: item.error,
  }));
  return { status: "COMPLETED", output: { ok, runs }, outputIsError: !ok };
};

/** The parent's part in "run finished": its waits on the run complete. */
export const completeParentWait =
  (deps: WaitpointDeps) =>
  ({ run }: RunFinished) =>
    completeWaitsOnChild(deps, run);

async function completeWaitsOnChild(deps: WaitpointDeps, child: Run): Promise<void> {
  if (!child.parentRunId) return;
  const waitpoints = await deps.runs.findWaitpointsCompletedBy(child.parentRunId, { runId: child.id });
  await Promise.all(waitpoints.map((waitpoint) => completeWaitpoint(deps, waitpoint, childResult(child))));
}

/** Every item of a batch ended: a parent's waits on the batch complete. */
export async function completeWaitsOnBatch(
  deps: WaitpointDeps,
  parentRunId: string,
  batchId: string,
  items: Run[],
): Promise<void> {
  const waitpoints = await deps.runs.findWaitpointsCompletedBy(parentRunId, { batchId });
  await Promise.all(waitpoints.map((waitpoint) => completeWaitpoint(deps, waitpoint, batchResult(items))));
}
