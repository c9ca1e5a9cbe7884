/**
 * The executor's line to the Worker for one run: every call carries the run-scoped token from the dispatch
 * message. A 409 means the run moved on without us (claimed by another, canceled, finished).
 */
import type { RunCompletion, StepReport } from "../schema/contracts.ts";
import type { SpecTest } from "../schema/spec-suites.ts";

export class RunGone extends Error {
  override name = "RunGone";
}

export interface WaitpointView {
  id: string;
  status: "WAITING" | "COMPLETED" | "TIMED_OUT";
  output: unknown;
  outputIsError: boolean;
}

export interface ClaimedRun {
  id: string;
  task: string;
  payload: unknown;
  attempt: number;
  maxAttempts: number;
}

export type WorkerClient = ReturnType<typeof workerClient>;

export function workerClient(workerUrl: string, runId: string, token: string) {
  const friendlyId = `run_${runId}`;
  const base = `${workerUrl}/internal/runs/${friendlyId}`;

  async function call<T>(path: string, body?: unknown, init: RequestInit = {}): Promise<T> {
    const response = await fetch(`${base}/${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      ...init,
    });
    if (response.status === 409) throw new RunGone((await response.text()).slice(0, 500));
    if (!response.ok) throw new Error(`${path}: HTTP ${response.status} ${(await response.text()).slice(0, 500)}`);
    return (response.status === 204 ? undefined : await response.json()) as T;
  }

  return {
    friendlyId,
    claim: (attempt: number) => call<ClaimedRun>("claim", { attempt }),
    heartbeat: () => call<void>("heartbeat"),
    events: (events: { type: "step" | "log"; data: Record<string, unknown> }[]) => call<void>("events", { events }),
    createToken: (body: { idempotencyKey: string; timeout: string }) => call<{ id: string }>("tokens", body),
    wait: (body: { tokens: string[] }) => call<{ status: string; seq: number | null; waitpoints: WaitpointView[] }>("wait", body),
    upload: (name: string, body: Uint8Array, contentType: string) =>
      call<{ key: string; url: string }>(`artifacts/${encodeURIComponent(name)}`, undefined, {
        method: "PUT",
        headers: { authorization: `Bearer ${token}`, "content-type": contentType },
        body,
      }),
    complete: (completion: Omit<RunCompletion, "steps"> & { steps: StepReport[] }) => call<{ status: string }>("complete", completion),
    release: () => call<void>("release"),
    /** A repository suite's setup run: one run per listed test, each with its own executor token. */
    specRuns: (tests: SpecTest[]) => call<{ runs: { id: string; testId: string; token: string }[] }>("spec-runs", { tests }).then((answer) => answer.runs),
    /** The run's live WebSocket, with the same token. */
    liveUrl: (since: number) =>
      `${workerUrl.replace(/^http/, "ws")}/api/v1/runs/${friendlyId}/live?token=${encodeURIComponent(token)}&since=${since}`,
  };
}
