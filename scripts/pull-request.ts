/**
 * A pull request opened on the local stack as GitHub would announce it (a signed `pull_request` delivery, or
 * any other webhook), and the check run it ends in, as the local GitHub stand-in holds it. Shared by the demo,
 * the e2e tests, the reliability suite and the bench.
 */
import { sign } from "@octokit/webhooks-methods";
import type { DevState } from "./dev-stack.ts";
import { DEV_INSTALLATION } from "./seed.ts";
import type { FakeGitHub } from "./local-github.ts";

export const randomSha = () =>
  Array.from(crypto.getRandomValues(new Uint8Array(20)), (byte) => byte.toString(16).padStart(2, "0")).join("");

/**
 * Delivers `opened` for a pull request whose head is `sha` (in `headRepository`, a fork when it is not
 * `repository`); resolves with the webhook's HTTP status.
 */
export async function openPullRequest(
  dev: Pick<DevState, "apiUrl" | "webhookSecret">,
  repository: string,
  sha: string,
  headRepository = repository,
): Promise<number> {
  const delivered = await deliverWebhook(dev, "pull_request", {
    action: "opened",
    number: 3,
    repository: { full_name: repository, default_branch: "main" },
    installation: { id: DEV_INSTALLATION.id },
    pull_request: { number: 3, head: { sha, ref: "feature/branch", repo: { full_name: headRepository } } },
  });
  return delivered.status;
}

/** Delivers `payload` as GitHub would (signed, under a new delivery id unless given); answers status and body. */
export async function deliverWebhook(
  dev: Pick<DevState, "apiUrl" | "webhookSecret">,
  event: string,
  payload: unknown,
  { delivery = crypto.randomUUID(), secret = dev.webhookSecret }: { delivery?: string; secret?: string } = {},
): Promise<{ status: number; body: any }> {
  const body = JSON.stringify(payload);
  const response = await fetch(`${dev.apiUrl}/webhooks/github`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-github-event": event,
      "x-github-delivery": delivery,
      "x-hub-signature-256": await sign(secret, body),
    },
    body,
  });
  return { status: response.status, body: await response.json() };
}

/** The check run on `sha` (only once completed, if asked), polled every 100 ms until `timeoutMs`. */
export async function checkRunOn(
  github: FakeGitHub,
  sha: string,
  { completed, timeoutMs = 240_000 }: { completed: boolean; timeoutMs?: number },
): Promise<Record<string, any>> {
  const deadline = Date.now() + timeoutMs;
  const what = completed ? "completed check run" : "check run";
  for (;;) {
    const found = [...github.checkRuns.values()].find(
      (run) => run.head_sha === sha && (!completed || run.status === "completed"),
    );
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`no ${what} on ${sha} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The completed check run on `sha`. */
export const completedCheckRun = (github: FakeGitHub, sha: string, timeoutMs?: number) =>
  checkRunOn(github, sha, { completed: true, timeoutMs });
