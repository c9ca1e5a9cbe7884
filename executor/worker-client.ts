/**
 * The executor's line to the Worker for one run: every call carries the run-scoped token from the dispatch
 * message, and every answer is parsed with its schema from `schema/`. A 409 means the run moved on without us
 * (claimed by another, canceled, finished).
 */
import {
  type RunCompletion,
  type StepReport,
  claimedRunSchema,
  createdTokenSchema,
  uploadedArtifactSchema,
  waitAnswerSchema,
} from "../schema/contracts.ts";
import type { PostedEvent } from "../schema/live.ts";
import { type SpecTest, recordedSpecRunsSchema } from "../schema/spec-suites.ts";
import * as z from "../schema/zod.ts";

export type { WaitpointView } from "../schema/live.ts";

export class RunGone extends Error {
  override name = "RunGone";
}

const noContent = z.undefined();

export type WorkerClient = ReturnType<typeof workerClient>;

export function workerClient(workerUrl: string, runId: string, token: string) {
  const friendlyId = `run_${runId}`;
  const base = `${workerUrl}/internal/runs/${friendlyId}`;

  async function call<S extends z.ZodMiniType>(
    answer: S,
    path: string,
    body?: unknown,
    init: RequestInit = {},
  ): Promise<z.infer<S>> {
    const response = await fetch(`${base}/${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      ...init,
    });
    if (response.status === 409) throw new RunGone((await response.text()).slice(0, 500));
    if (!response.ok) throw new Error(`${path}: HTTP ${response.status} ${(await response.text()).slice(0, 500)}`);
    const parsed = answer.safeParse(response.status === 204 ? undefined : await response.json());
    if (!parsed.success) throw new Error(`${path}: unexpected answer: ${z.prettifyError(parsed.error).slice(0, 500)}`);
    return parsed.data;
  }

  return {
    friendlyId,
    claim: (attempt: number) => call(claimedRunSchema, "claim", { attempt }),
    heartbeat: () => call(noContent, "heartbeat"),
    events: (events: PostedEvent[]) => call(noContent, "events", { events }),
    createToken: (body: { idempotencyKey: string; timeout: string }) => call(createdTokenSchema, "tokens", body),
    wait: (body: { tokens: string[] }) => call(waitAnswerSchema, "wait", body),
    upload: (name: string, body: Uint8Array, contentType: string) =>
      call(uploadedArtifactSchema, `artifacts/${encodeURIComponent(name)}`, undefined, {
        method: "PUT",
        headers: { authorization: `Bearer ${token}`, "content-type": contentType },
        body,
      }),
    complete: (completion: Omit<RunCompletion, "steps"> & { steps: StepReport[] }) =>
      call(claimedRunSchema, "complete", completion),
    release: () => call(noContent, "release"),
    /** A repository suite's setup run: one run per listed test, each with its own executor token. */
    specRuns: (tests: SpecTest[]) => call(recordedSpecRunsSchema, "spec-runs", { tests }).then((answer) => answer.runs),
    /** The run's live WebSocket, with the same token. */
    liveUrl: (since: number) =>
      `${workerUrl.replace(/^http/, "ws")}/api/v1/runs/${friendlyId}/live` +
      `?token=${encodeURIComponent(token)}&since=${since}`,
  };
}
