/**
 * The `http-check` task: one request, checked against an expected status and body. It runs here rather than in
 * the Worker because only Node can check the address it connects to (the egress policy, after DNS). Redirects
 * are not followed: a 3xx is the answer checked. At most MAX_BODY_BYTES of the body are read.
 */
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { isIP } from "node:net";
import type { HttpCheckPayload, HttpCheckResult } from "../schema/tasks.ts";
import { EgressRefused, type EgressPolicy, resolveTarget } from "./egress.ts";

export const MAX_BODY_BYTES = 1024 * 1024;

export async function runHttpCheck(check: HttpCheckPayload, policy: EgressPolicy): Promise<HttpCheckResult> {
  const started = Date.now();
  const url = new URL(check.url);
  const signal = AbortSignal.timeout(check.timeoutMs);
  let response: IncomingMessage;
  let body: { text: string; cut: boolean };
  try {
    const address = await resolveTarget(url.hostname, policy);
    response = await send(url, address, check.method, signal);
    body = await readCapped(response);
  } catch (error) {
    if (error instanceof EgressRefused) return failed(error.message);
    // Unreachable or too slow: worth another attempt.
    return failed(`${check.method} ${check.url} failed: ${(error as Error).message}`, { retryable: true });
  }
  const durationMs = Date.now() - started;
  const status = response.statusCode ?? 0;
  if (status !== check.expectStatus) {
    return failed(`Expected HTTP ${check.expectStatus}, got ${status}`, { status });
  }
  if (check.expectBodyContains !== undefined && !body.text.includes(check.expectBodyContains)) {
    const where = body.cut ? ` in its first ${MAX_BODY_BYTES} bytes (the body is larger; reading stopped there)` : "";
    return failed(`Body does not contain ${JSON.stringify(check.expectBodyContains)}${where}`);
  }
  return { ok: true, output: { status, durationMs } };
}

const failed = (message: string, { retryable = false, status }: { retryable?: boolean; status?: number } = {}) =>
  ({ ok: false, retryable, error: { message, ...(status !== undefined && { status }) } }) satisfies HttpCheckResult;

/** Connects to the checked `address` itself; the URL's host still names the site (Host header, TLS SNI). */
function send(url: URL, address: string, method: string, signal: AbortSignal): Promise<IncomingMessage> {
  const request = url.protocol === "https:" ? httpsRequest : httpRequest;
  // SNI and certificate checks name the host; an address literal has no name to send.
  const servername = isIP(url.hostname.replace(/^\[(.*)\]$/, "$1")) ? undefined : url.hostname;
  const target = { host: address, port: url.port || undefined, servername, headers: { host: url.host } };
  return new Promise((resolve, reject) => {
    const outgoing = request({ ...target, method, path: url.pathname + url.search, signal }, resolve);
    outgoing.on("error", reject).end();
  });
}

async function readCapped(response: IncomingMessage): Promise<{ text: string; cut: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response as AsyncIterable<Buffer>) {
    chunks.push(chunk);
    size += chunk.length;
    if (size > MAX_BODY_BYTES) {
      response.destroy();
      return { text: Buffer.concat(chunks).subarray(0, MAX_BODY_BYTES).toString("utf8"), cut: true };
    }
  }
  return { text: Buffer.concat(chunks).toString("utf8"), cut: false };
}
