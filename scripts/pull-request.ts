/**
 * A pull request opened on the local stack as GitHub would announce it (a signed `pull_request` delivery),
 * and the check run it ends in, as the local GitHub stand-in holds it. Shared by the e2e tests and the bench.
 */
import { sign } from "@octokit/webhooks-methods";
import type { DevState } from "./dev-stack.ts";
import { DEV_INSTALLATION } from "./seed.ts";
import type { FakeGitHub } from "./local-github.ts";

export const randomSha = () =>
  Array.from(crypto.getRandomValues(new Uint8Array(20)), (byte) => byte.toString(16).padStart(2, "0")).join("");

/** Delivers `opened` for a pull request whose head is `sha`; resolves with the webhook's HTTP status. */
export async function openPullRequest(
  dev: Pick<DevState, "apiUrl" | "webhookSecret">,
  repository: string,
  sha: string,
): Promise<number> {
  const body = JSON.stringify({
    action: "opened",
    number: 3,
    repository: { full_name: repository, default_branch: "main" },
    installation: { id: DEV_INSTALLATION.id },
    pull_request: { number: 3, head: { sha, ref: "feature/branch" } },
  });
  const delivered = await fetch(`${dev.apiUrl}/webhooks/github`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-github-event": "pull_request",
      "x-github-delivery": crypto.randomUUID(),
      "x-hub-signature-256": await sign(dev.webhookSecret, body),
    },
    body,
  });
  return delivered.status;
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
