/** Reliability scenarios for attempt fencing (issue #14 item 2), registered in run.ts. */
import { signToken } from "../../worker/runs/tokens.ts";

type Call = (method: string, path: string, body?: unknown) => Promise<{ status: number; body: any }>;

export interface FencingContext {
  /** A client of a fresh tenant. */
  call: Call;
  apiKey: string;
  environmentId: string;
  apiUrl: string;
  signingSecret: string;
  /** The demo site, and a site whose `/slow?ms=` answers late. */
  demoUrl: string;
  probeUrl: string;
  until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T>;
}

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47];

/**
 * Attempt 1 is claimed (by us, playing an executor that then stalls), the watchdog retries the run, and the
 * real executor claims attempt 2. Attempt 1 comes back: heartbeat, events, an upload over the name attempt 2
 * uses, and a result. Every call must get 409, and attempt 2's result and screenshot must be its own.
 */
export async function staleAttemptAfterNewerClaim(ctx: FencingContext) {
  const steps = [
    { action: "goto", url: ctx.demoUrl },
    { action: "screenshot", name: "proof" },
    { action: "goto", url: `${ctx.probeUrl}/slow?ms=4000` },
  ];
  const payload = { baseUrl: ctx.demoUrl, case: { name: "fenced", timeoutMs: 60_000, steps } };
  // Claim attempt 1 before the queue hands it to the executor (a lost race is tried again with a new run).
  let claimed: { id: string; internal: (path: string, init?: RequestInit) => Promise<Response> } | undefined;
  for (let tries = 0; tries < 5 && !claimed; tries++) {
    const { body } = await ctx.call("POST", "/api/v1/tasks/browser-case/trigger", {
      payload,
      options: { maxAttempts: 2 },
    });
    const token = await signToken(
      ctx.signingSecret,
      { scope: "executor", sub: body.id, env: ctx.environmentId, attempt: 1 },
      600,
    );
    const internal = (path: string, init: RequestInit = {}) =>
      fetch(`${ctx.apiUrl}/internal/runs/${body.id}/${path}`, {
        method: "POST",
        ...init,
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json", ...init.headers },
      });
    if ((await internal("claim", { body: JSON.stringify({ attempt: 1 }) })).status === 200)
      claimed = { id: body.id, internal };
  }
  if (!claimed)
    return { tried: "claim attempt 1 before the executor", held: false, detail: "the executor won every race" };
  const { id, internal } = claimed;
  // We stall; the watchdog retries and the real executor claims attempt 2.
  await ctx.until(
    "attempt 2 to run",
    async () => {
      const run = (await ctx.call("GET", `/api/v1/runs/${id}`)).body;
      return run.status === "EXECUTING" && run.attempt === 2 ? run : undefined;
    },
    60_000,
  );

  const stale = [
    await internal("heartbeat"),
    await internal("events", {
      body: JSON.stringify({ events: [{ type: "log", data: { message: "attempt 1 is back" } }] }),
    }),
    await internal("artifacts/step-1-proof.png", {
      method: "PUT",
      body: "stale bytes",
      headers: { "content-type": "image/png" },
    }),
    await internal("complete", { body: JSON.stringify({ status: "COMPLETED", output: { from: "attempt 1" } }) }),
  ];
  const statuses = stale.map((response) => response.status);

  const run = await ctx.until(
    "attempt 2 to finish",
    async () => {
      const found = (await ctx.call("GET", `/api/v1/runs/${id}`)).body;
      return found.status === "EXECUTING" || found.status === "WAITING" ? undefined : found;
    },
    60_000,
  );
  const shot = run.steps?.find((step: { index: number }) => step.index === 1)?.screenshotUrl as string | undefined;
  const response =
    shot && (await fetch(`${ctx.apiUrl}${shot}`, { headers: { authorization: `Bearer ${ctx.apiKey}` } }));
  const image = response ? new Uint8Array(await response.arrayBuffer()) : undefined;
  const ownScreenshot =
    !!image && PNG_MAGIC.every((byte, index) => image[index] === byte) && shot!.includes("/artifacts/2/");
  const attemptOneFile = (await ctx.call("GET", `/api/v1/runs/${id}/artifacts/1/step-1-proof.png`)).status;
  const ownResult = run.status === "COMPLETED" && run.attempt === 2 && run.output?.from === undefined;
  const onlyAttempt2Steps =
    run.steps?.length === 3 && run.steps.every((step: { attempt: number }) => step.attempt === 2);
  return {
    tried:
      "attempt 1 claimed, stalled, retried; attempt 2 claimed by the executor; " +
      "then attempt 1's heartbeat, events, upload, complete",
    held:
      statuses.every((status) => status === 409) &&
      ownResult &&
      onlyAttempt2Steps &&
      ownScreenshot &&
      attemptOneFile === 404,
    detail:
      `attempt 1's calls answered ${statuses.join(", ")}; run ${run.status} at attempt ${run.attempt}, ` +
      `${run.steps?.length ?? 0} step(s) of attempt 2: ${onlyAttempt2Steps}, ` +
      `its screenshot a PNG of attempt 2: ${ownScreenshot}, ` +
      `attempt 1's file: ${attemptOneFile}`,
  };
}
