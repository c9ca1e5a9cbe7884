/**
 * One dispatched run in the executor (DESIGN §2.4): claim the attempt (a second claim of it is refused, so a
 * redelivered message never runs a case twice), heartbeat while it runs, stream each step to the run's live
 * log, wait on tokens through the Worker, upload the failure screenshot, and report the result with every
 * step's outcome. A run canceled meanwhile stops at the next heartbeat; nothing is reported for it.
 */
import type { ClaimedRun, DispatchMessage, StepReport } from "../schema/contracts.ts";
import { liveMessageSchema } from "../schema/live.ts";
import { isFinal } from "../schema/run-states.ts";
import { browserCasePayloadSchema } from "../schema/tasks.ts";
import type { SharedBrowser } from "./browser.ts";
import type { ExecutorConfig } from "./config.ts";
import { startHeartbeat } from "./heartbeat.ts";
import { type CaseResult, runCase } from "./run-case.ts";
import type { TokenWait, WaitForTokenStep } from "./steps.ts";
import { runSpecSuite, type SpecContext } from "./specs/spec-job.ts";
import { stepStream } from "./step-stream.ts";
import { RunGone, type WaitpointView, type WorkerClient, workerClient } from "./worker-client.ts";

const RECONNECT_MS = 500;

/** The executor is stopping: a case cut short for it is handed back for another attempt. */
export class ShuttingDown extends Error {
  override name = "ShuttingDown";
}

export interface JobContext {
  config: Pick<ExecutorConfig, "WORKER_URL" | "HEARTBEAT_INTERVAL_MS">;
  /** How repository suites are fetched and run; without it their setup runs fail. */
  specs?: SpecContext;
  browser(): Promise<SharedBrowser>;
  /** Aborts with ShuttingDown when running cases must stop. */
  stop: AbortSignal;
  log: Pick<Console, "info" | "warn" | "error">;
}

/**
 * Runs the job; `caseDone` is called as soon as the browser is free (before the report is uploaded), so the
 * next case can start while this one's result travels.
 */
export async function runJob(job: DispatchMessage, context: JobContext, caseDone: () => void): Promise<void> {
  let done = false;
  const free = () => {
    if (!done) (done = true), caseDone();
  };
  try {
    await execute(job, context, free);
  } finally {
    free();
  }
}

async function execute(job: DispatchMessage, context: JobContext, caseDone: () => void): Promise<void> {
  const api = workerClient(context.config.WORKER_URL, job.runId, job.token);
  let claimed: ClaimedRun;
  try {
    claimed = await api.claim(job.attempt);
  } catch (error) {
    if (!(error instanceof RunGone)) throw error;
    context.log.info(`${api.friendlyId}: attempt ${job.attempt} not claimed (${error.message}); skipping`);
    return;
  }
  if (claimed.task === "spec-suite") return runClaimedSpecSuite(claimed, api, context, caseDone);
  const payload = browserCasePayloadSchema.safeParse(claimed.payload);
  if (!payload.success) {
    await api.complete({
      status: "FAILED",
      error: { message: "The stored payload does not fit the browser-case task" },
      retryable: false,
      steps: [],
    });
    return;
  }

  const stop = new AbortController();
  const onShutdown = () => stop.abort(context.stop.reason);
  context.stop.addEventListener("abort", onShutdown, { once: true });
  if (context.stop.aborted) onShutdown();
  const beating = startHeartbeat(context.config.HEARTBEAT_INTERVAL_MS, () =>
    api.heartbeat().catch((error) => {
      if (error instanceof RunGone) stop.abort(error);
      else context.log.warn(`${api.friendlyId}: heartbeat failed: ${(error as Error).message}`);
    }),
  );
  const steps = stepStream(api, context.log, (gone) => stop.abort(gone));
  try {
    context.log.info(
      `${api.friendlyId}: running "${payload.data.case.name}" (attempt ${claimed.attempt}/${claimed.maxAttempts})`,
    );
    const result = await runCase(await context.browser(), payload.data, {
      signal: stop.signal,
      onStep: steps.push,
      waitForToken: (step, signal) => waitForToken(api, step, signal),
    });
    caseDone();
    await steps.flush();
    if (stop.signal.reason instanceof RunGone) {
      context.log.info(`${api.friendlyId}: stopped, the run moved on (${stop.signal.reason.message})`);
      return;
    }
    const shutDown = stop.signal.reason instanceof ShuttingDown;
    const after = await api.complete(await report(api, result, shutDown, context.log));
    context.log.info(`${api.friendlyId}: ${result.status} in ${result.durationMs} ms → run ${after.status}`);
  } catch (error) {
    if (!(error instanceof RunGone)) throw error;
  } finally {
    beating.stop();
    context.stop.removeEventListener("abort", onShutdown);
  }
}

/** A repository suite's setup run: heartbeated like a case while its tests run (see specs/spec-job.ts). */
async function runClaimedSpecSuite(
  claimed: ClaimedRun,
  api: WorkerClient,
  context: JobContext,
  caseDone: () => void,
): Promise<void> {
  const stop = new AbortController();
  const onShutdown = () => stop.abort(context.stop.reason);
  context.stop.addEventListener("abort", onShutdown, { once: true });
  const beating = startHeartbeat(context.config.HEARTBEAT_INTERVAL_MS, () =>
    api.heartbeat().catch((error) => error instanceof RunGone && stop.abort(error)),
  );
  try {
    context.log.info(`${api.friendlyId}: running a repository suite`);
    const completion = context.specs
      ? await runSpecSuite(claimed, api, context, context.specs, stop.signal)
      : {
          status: "FAILED" as const,
          error: {
            message: "This executor does not run repository code: it needs RUN_REPOSITORY_CODE=true and a GitHub App",
          },
          retryable: false,
          steps: [],
        };
    caseDone();
    const after = await api.complete(completion);
    context.log.info(`${api.friendlyId}: repository suite ${completion.status} → run ${after.status}`);
  } catch (error) {
    if (!(error instanceof RunGone)) throw error;
  } finally {
    beating.stop();
    context.stop.removeEventListener("abort", onShutdown);
  }
}

/**
 * The completion report: uploads the failure screenshot and step screenshots, then describes every step. An
 * upload that fails leaves its step without a screenshot and a note in the output, rather than losing the result.
 */
async function report(api: WorkerClient, result: CaseResult, shutDown: boolean, log: JobContext["log"]) {
  const notes = [...result.notes];
  const upload = async (name: string, body: Uint8Array) => {
    try {
      return (await api.upload(name, body, "image/png")).key;
    } catch (error) {
      if (error instanceof RunGone) throw error;
      log.warn(`${api.friendlyId}: ${name} not uploaded: ${(error as Error).message}`);
      notes.push(`${name} not kept: the upload failed (${(error as Error).message.slice(0, 200)})`);
      return undefined;
    }
  };
  const failureKey = result.screenshot && (await upload("failure.png", result.screenshot));
  const artifactKeys = new Map<number, string | undefined>();
  for (const artifact of result.artifacts) {
    const name = `step-${artifact.stepIndex}-${artifact.name.replace(/[^A-Za-z0-9._-]/g, "-").slice(0, 60)}.png`;
    artifactKeys.set(artifact.stepIndex, await upload(name, artifact.body));
  }
  const steps: StepReport[] = result.steps.map((step) => ({
    index: step.index,
    action: step.action,
    label: step.name,
    status: step.status,
    durationMs: step.durationMs,
    error: step.error ?? null,
    screenshotKey: (step.status === "FAILED" ? failureKey : artifactKeys.get(step.index)) ?? null,
  }));
  const passed = result.steps.filter((step) => step.status === "PASSED").length;
  const output = { durationMs: result.durationMs, passed, ...(notes.length > 0 && { notes }) };
  if (result.status === "COMPLETED") return { status: "COMPLETED" as const, output, retryable: false, steps };
  const error = {
    message: shutDown
      ? `The executor shut down mid-case: ${result.error?.message ?? ""}`.trim()
      : (result.error?.message ?? result.status),
    stepIndex: result.error?.stepIndex ?? null,
    screenshotUrl: failureKey ? `/api/v1/${failureKey}` : null,
  };
  const status = shutDown ? ("FAILED" as const) : result.status;
  return { status, error, retryable: shutDown || result.retryable, output, steps };
}

/**
 * A `waitForToken` step: the token (found or created by its idempotency key) blocks the run, which is
 * WAITING until someone completes it or it times out; the run's live log says when it resumed.
 */
async function waitForToken(api: WorkerClient, step: WaitForTokenStep, signal: AbortSignal): Promise<TokenWait> {
  const { id } = await api.createToken({ idempotencyKey: step.idempotencyKey, timeout: `${step.timeoutMs}ms` });
  const waited = await api.wait({ tokens: [id] });
  const mine = waited.waitpoints.find((waitpoint) => waitpoint.id === id);
  if (waited.status === "EXECUTING" && mine) return settled(mine);
  return resumeOf(api, id, waited.seq ?? 0, signal);
}

const settled = (waitpoint: WaitpointView): TokenWait => ({
  ok: waitpoint.status === "COMPLETED" && !waitpoint.outputIsError,
  output: waitpoint.output,
});

/** Follows the run's live log from `since` until it resumes on `waitpointId` (reconnecting with `since` if dropped). */
function resumeOf(api: WorkerClient, waitpointId: string, since: number, signal: AbortSignal): Promise<TokenWait> {
  return new Promise((resolve, reject) => {
    let lastSeq = since;
    let socket: WebSocket | undefined;
    let done = false;
    const finish = (settle: () => void) => {
      done = true;
      socket?.close();
      signal.removeEventListener("abort", onAbort);
      settle();
    };
    const onAbort = () => finish(() => reject(signal.reason));
    const connect = () => {
      if (done) return;
      socket = new WebSocket(api.liveUrl(lastSeq));
      socket.onmessage = (event) => {
        const parsed = liveMessageSchema.safeParse(JSON.parse(String(event.data)));
        if (!parsed.success) return;
        const message = parsed.data;
        if (message.type !== "snapshot") lastSeq = message.seq;
        if (message.type !== "status") return;
        const { status, resumedBy } = message.data;
        const resumed = resumedBy?.find((waitpoint) => waitpoint.id === waitpointId);
        if (status === "EXECUTING" && resumed) finish(() => resolve(settled(resumed)));
        else if (isFinal(status)) finish(() => reject(new RunGone(`the run is ${status}`)));
      };
      socket.onclose = () => {
        if (!done) setTimeout(connect, RECONNECT_MS);
      };
    };
    signal.addEventListener("abort", onAbort, { once: true });
    connect();
  });
}
