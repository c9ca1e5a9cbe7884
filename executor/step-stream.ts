/** A run's step events on their way to its live log (a browser case's and a repository suite test's alike). */
import type { StepEvent } from "../schema/live.ts";
import { RunGone, type WorkerClient } from "./worker-client.ts";

const STEP_EVENT_WINDOW_MS = 250;

/**
 * Step events go to the live log in order, gathered for up to STEP_EVENT_WINDOW_MS per post: live enough for
 * a person watching, and a handful of requests per case instead of two per step competing with the browser
 * for the CPU. A lost event is only logged; a 409 (a later attempt holds the run) calls `onGone`.
 */
export function stepStream(api: WorkerClient, log: Pick<Console, "warn">, onGone: (gone: RunGone) => void) {
  const pending: StepEvent[] = [];
  let sending = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  const send = () => {
    clearTimeout(timer);
    timer = undefined;
    const events = pending.splice(0).map((data) => ({ type: "step" as const, data: { ...data } }));
    if (!events.length) return;
    sending = sending
      .then(() => api.events(events))
      .catch((error) =>
        error instanceof RunGone ? onGone(error) : log.warn(`${api.friendlyId}: step events lost: ${error.message}`),
      );
  };
  return {
    push: (event: StepEvent) => {
      pending.push(event);
      timer ??= setTimeout(send, STEP_EVENT_WINDOW_MS);
    },
    flush: async () => {
      send();
      await sending;
    },
  };
}
