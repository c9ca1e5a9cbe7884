/**
 * The `run-dispatch` consumer (DESIGN §2.4). Each message names one run and carries its signed executor
 * token. The message is acked once the run is in someone's hands: handed to the executor (which answered
 * 202), or, for an http-check, claimed here and sent to the executor after the batch is acked (so one slow
 * check never holds up the queue; the executor makes the request under the egress policy and answers the
 * result). A refused or failed hand-off is retried with exponential backoff; past `max_retries` the queue
 * moves the message to the dead-letter queue.
 */
import { dispatchMessageSchema } from "../../schema/contracts.ts";
import { callExecutor } from "../durable/executor-container.ts";
import {
  type HttpCheckPayload,
  type HttpCheckResult,
  httpCheckPayloadSchema,
  httpCheckResultSchema,
} from "../../schema/tasks.ts";
import { type RunEngine, type Stores, openEngine, withEngine } from "../runs/engine.ts";
import { HEARTBEAT_INTERVAL_MS } from "../runs/execute.ts";
import { verifyToken } from "../runs/tokens.ts";
import { toFriendlyId } from "../store/ids.ts";
import type { Run } from "../store/run-store.ts";

const MAX_BACKOFF_SECONDS = 60;

export function backoffSeconds(attempts: number): number {
  return Math.min(MAX_BACKOFF_SECONDS, 2 ** attempts);
}

/** Claims the attempt; undefined when it is already claimed (a redelivered message), else the check to run. */
async function claimHttpCheck(
  engine: RunEngine,
  env: Env,
  run: Run,
  attempt: number,
): Promise<(() => Promise<void>) | undefined> {
  const claimed = await engine.claim(run, attempt);
  if (!claimed) return undefined;
  return async () => {
    // Heartbeats while it runs, as an executor would: the watchdog leaves it alone.
    const beating = setInterval(() => void engine.heartbeat(claimed, attempt).catch(() => {}), HEARTBEAT_INTERVAL_MS);
    try {
      await check(engine, env, claimed);
    } finally {
      clearInterval(beating);
    }
  };
}

async function check(engine: RunEngine, env: Env, claimed: Run): Promise<void> {
  const payload = httpCheckPayloadSchema.safeParse(claimed.payload);
  if (!payload.success) {
    await engine.finish(claimed, "SYSTEM_FAILURE", {
      error: { message: "Stored payload does not fit the http-check task" },
    });
    return;
  }
  const result = await runOnExecutor(engine, env, payload.data);
  if (result.ok) await engine.complete(claimed, { status: "COMPLETED", output: result.output });
  else await engine.complete(claimed, { status: "FAILED", error: result.error, retryable: result.retryable });
}

async function runOnExecutor(engine: RunEngine, env: Env, payload: HttpCheckPayload): Promise<HttpCheckResult> {
  try {
    const response = await callExecutor(engine.config, env, "/http-checks", payload);
    const result = httpCheckResultSchema.safeParse(response.ok ? await response.json() : undefined);
    if (result.success) return result.data;
    return retryable(`The executor did not run the check (HTTP ${response.status})`);
  } catch (error) {
    return retryable(`The executor could not be reached: ${(error as Error).message}`);
  }
}

const retryable = (message: string): HttpCheckResult => ({ ok: false, retryable: true, error: { message } });

/** Acks or retries `message`; returns work to finish after the batch is acked, if any. */
async function handle(
  message: Message,
  engine: RunEngine,
  stores: Stores,
  env: Env,
): Promise<(() => Promise<void>) | undefined> {
  const job = dispatchMessageSchema.safeParse(message.body);
  const claims = job.success ? await verifyToken(engine.config.SIGNING_SECRET, job.data.token, "executor") : undefined;
  if (!job.success || claims?.sub !== toFriendlyId("run", job.data.runId) || claims.attempt !== job.data.attempt) {
    // Redelivery cannot fix a malformed or forged message: drop it loudly.
    console.error(`run-dispatch: dropping message ${message.id}: ${job.success ? "bad executor token" : "malformed"}`);
    message.ack();
    return undefined;
  }
  try {
    const run = await stores.runs.findRun(claims.env, job.data.runId, { fresh: true });
    if (!run) {
      console.error(`run-dispatch: run ${job.data.runId} does not exist; dropping message ${message.id}`);
      message.ack();
      return undefined;
    }
    if (run.task === "http-check") {
      const work = await claimHttpCheck(engine, env, run, job.data.attempt);
      message.ack();
      return work;
    }
    const response = await callExecutor(engine.config, env, "/jobs", job.data);
    if (response.status === 202) {
      await engine.handOver(run);
      message.ack();
      return undefined;
    }
    console.warn(`run-dispatch: executor refused ${job.data.runId}: HTTP ${response.status}`);
  } catch (error) {
    console.warn(`run-dispatch: ${job.data.runId} not handed over`, error);
  }
  message.retry({ delaySeconds: backoffSeconds(message.attempts) });
  return undefined;
}

/**
 * The dead-letter queue: a run whose dispatch could not be handed over after every retry ends SYSTEM_FAILURE
 * with the reason, instead of staying PENDING forever (its slot is freed and the queue moves on).
 */
async function consumeDeadLetters(batch: MessageBatch, env: Env): Promise<void> {
  await withEngine(env, async (engine, stores) => {
    for (const message of batch.messages) {
      const job = dispatchMessageSchema.safeParse(message.body);
      const claims = job.success
        ? await verifyToken(engine.config.SIGNING_SECRET, job.data.token, "executor")
        : undefined;
      const run =
        claims && job.success ? await stores.runs.findRun(claims.env, job.data.runId, { fresh: true }) : undefined;
      if (run && (run.status === "PENDING" || run.status === "DEQUEUED")) {
        await engine.finish(run, "SYSTEM_FAILURE", {
          error: {
            message: `The executor did not accept attempt ${job.data!.attempt} after ${message.attempts} deliveries`,
          },
        });
      }
      message.ack();
    }
  });
}

export async function consumeQueue(batch: MessageBatch, env: Env, ctx: ExecutionContext): Promise<void> {
  if (batch.queue === "run-dispatch-dlq") return consumeDeadLetters(batch, env);
  return consumeDispatchBatch(batch, env, ctx);
}

async function consumeDispatchBatch(batch: MessageBatch, env: Env, ctx: ExecutionContext): Promise<void> {
  const { engine, stores, close } = openEngine(env);
  try {
    const work = (await Promise.all(batch.messages.map((message) => handle(message, engine, stores, env)))).filter(
      (w) => w !== undefined,
    );
    // The stores stay open until the claimed checks (and what they defer) are done.
    for (const run of work) engine.defer(run());
    ctx.waitUntil(close());
  } catch (error) {
    await close();
    throw error;
  }
}
