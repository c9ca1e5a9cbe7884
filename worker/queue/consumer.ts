/**
 * The `run-dispatch` consumer hands each run to the executor and acks only once the executor accepted it
 * (DESIGN §2.4). A refused or failed hand-off is retried with exponential backoff; past `max_retries` the
 * queue moves the message to the dead-letter queue.
 */
import { getRandom } from "@cloudflare/containers";
import { type DispatchMessage, dispatchMessageSchema } from "../../schema/contracts.ts";
import { type Config, loadConfig } from "../config.ts";

/** Containers the consumer spreads jobs over in production. */
const EXECUTOR_INSTANCES = 3;
const MAX_BACKOFF_SECONDS = 60;

export function backoffSeconds(attempts: number): number {
  return Math.min(MAX_BACKOFF_SECONDS, 2 ** attempts);
}

async function handOff(job: DispatchMessage, config: Config, env: Env): Promise<Response> {
  const init = {
    method: "POST",
    headers: { authorization: `Bearer ${config.EXECUTOR_SHARED_SECRET}`, "content-type": "application/json" },
    body: JSON.stringify(job),
  };
  if (config.EXECUTOR_URL) return fetch(`${config.EXECUTOR_URL}/jobs`, init);
  const container = await getRandom(env.EXECUTOR, EXECUTOR_INSTANCES);
  return container.fetch("http://executor/jobs", init);
}

export async function consumeDispatchBatch(batch: MessageBatch, env: Env): Promise<void> {
  const config = loadConfig(env);
  await Promise.all(
    batch.messages.map(async (message) => {
      const job = dispatchMessageSchema.safeParse(message.body);
      if (!job.success) {
        // Redelivery cannot fix a malformed message: drop it loudly.
        console.error(`run-dispatch: dropping malformed message ${message.id}`, job.error.issues);
        message.ack();
        return;
      }
      try {
        const response = await handOff(job.data, config, env);
        if (response.status === 202) {
          message.ack();
          return;
        }
        console.warn(`run-dispatch: executor refused ${job.data.runId}: HTTP ${response.status}`);
      } catch (error) {
        console.warn(`run-dispatch: executor unreachable for ${job.data.runId}`, error);
      }
      message.retry({ delaySeconds: backoffSeconds(message.attempts) });
    }),
  );
}
