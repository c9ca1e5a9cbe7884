/**
 * The `http-check` task: one request, checked against an expected status and body. It runs here, in the
 * queue consumer, until the executor takes it over (it needs no browser).
 */
import type { HttpCheckPayload } from "../../schema/tasks.ts";

export type HttpCheckResult =
  | { ok: true; output: { status: number; durationMs: number } }
  | { ok: false; retryable: boolean; error: { message: string; status?: number } };

export async function runHttpCheck(check: HttpCheckPayload): Promise<HttpCheckResult> {
  const started = Date.now();
  let response: Response;
  try {
    response = await fetch(check.url, { method: check.method, redirect: "manual", signal: AbortSignal.timeout(check.timeoutMs) });
  } catch (error) {
    // Unreachable or too slow: worth another attempt.
    return { ok: false, retryable: true, error: { message: `${check.method} ${check.url} failed: ${(error as Error).message}` } };
  }
  let body: string;
  try {
    body = await response.text();
  } catch (error) {
    return { ok: false, retryable: true, error: { message: `Reading the response failed: ${(error as Error).message}` } };
  }
  const durationMs = Date.now() - started;
  if (response.status !== check.expectStatus) {
    return {
      ok: false,
      retryable: false,
      error: { message: `Expected HTTP ${check.expectStatus}, got ${response.status}`, status: response.status },
    };
  }
  if (check.expectBodyContains !== undefined && !body.includes(check.expectBodyContains)) {
    return { ok: false, retryable: false, error: { message: `Body does not contain ${JSON.stringify(check.expectBodyContains)}` } };
  }
  return { ok: true, output: { status: response.status, durationMs } };
}
