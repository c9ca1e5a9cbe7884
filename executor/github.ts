/**
 * The GitHub App, executor side only (the Worker bundle must not carry the App's private key nor Octokit's
 * app auth). Creates and updates check runs with installation tokens minted from an RS256 App JWT.
 */
import { createAppAuth } from "@octokit/auth-app";
import { request as octokitRequest } from "@octokit/request";
import type { CheckRunSync } from "../schema/github.ts";
import { renderAnnotations, renderSummary, renderTitle } from "./check-run-output.ts";

export { renderSummary, renderTitle };

export interface GitHubAppOptions {
  appId: number | string;
  /** PEM, PKCS#1 (as GitHub hands it out) or PKCS#8; `\n`-escaped newlines are accepted. */
  privateKey: string;
  /** https://api.github.com, or a local stand-in in tests. */
  apiUrl: string;
}

export type GitHubApp = ReturnType<typeof createGitHubApp>;

/** GitHub refused, or could not be reached after retries. `status` is 0 when no response came back. */
export class GitHubError extends Error {
  override name = "GitHubError";
  readonly status: number;
  constructor(message: string, status: number, cause: unknown) {
    super(message, { cause });
    this.status = status;
  }
}

/** Waits before the 2nd and 3rd attempt at a 5xx or network error. */
const RETRY_DELAYS_MS = [200, 1_000];
const ATTEMPT_TIMEOUT_MS = 15_000;
/** A repository's download, body included. */
const TARBALL_TIMEOUT_MS = 120_000;

export function createGitHubApp({ appId, privateKey, apiUrl }: GitHubAppOptions) {
  // Every call, the token exchange included, gives up on a silent GitHub (and is then retried as a 5xx).
  const fetchWithTimeout: typeof fetch = (input, init) =>
    fetch(input, { ...init, signal: AbortSignal.timeout(ATTEMPT_TIMEOUT_MS) });
  const request = octokitRequest.defaults({
    baseUrl: apiUrl.replace(/\/+$/, ""),
    headers: { "user-agent": "flightcheck", "x-github-api-version": "2022-11-28" },
    request: { fetch: fetchWithTimeout },
  });
  // One auth for all installations: its LRU cache keys tokens by installation id and keeps each for 59
  // minutes of its 60, so a token is minted once per installation per hour.
  const auth = createAppAuth({ appId, privateKey, request });

  async function call(installationId: number, route: string, parameters: Record<string, unknown>) {
    const send = (token: string) => request(route, { ...parameters, headers: { authorization: `token ${token}` } });
    const { token } = await auth({ type: "installation", installationId });
    try {
      return await send(token);
    } catch (error) {
      // A cached token GitHub no longer honours (revoked, or not yet replicated): mint a fresh one, once.
      if (statusOf(error) !== 401) throw error;
      return await send((await auth({ type: "installation", installationId, refresh: true })).token);
    }
  }

  /**
   * The check run this suite run created before, found by its external_id on the commit: a create whose
   * answer was lost (to us, or to the Worker) must not leave the suite run with two check runs.
   */
  async function findCheckRun(sync: CheckRunSync, owner: string, repo: string): Promise<number | undefined> {
    const { data } = await call(sync.installationId, "GET /repos/{owner}/{repo}/commits/{ref}/check-runs", {
      owner,
      repo,
      ref: sync.headSha,
      check_name: sync.name,
      filter: "all",
      per_page: 100,
    });
    return (data as { check_runs: { id: number; external_id: string | null }[] }).check_runs.find(
      (run) => run.external_id === sync.externalId,
    )?.id;
  }

  async function upsertCheckRun(sync: CheckRunSync): Promise<{ checkRunId: number }> {
    const [owner, repo] = sync.repository.split("/") as [string, string];
    const body = {
      name: sync.name,
      details_url: sync.detailsUrl,
      external_id: sync.externalId,
      status: sync.status,
      conclusion: sync.conclusion,
      started_at: sync.startedAt,
      completed_at: sync.completedAt,
      output: { title: renderTitle(sync), summary: renderSummary(sync), ...annotationsOf(sync) },
    };
    const checkRunId = sync.checkRunId ?? (await findCheckRun(sync, owner, repo));
    const response =
      checkRunId === undefined
        ? await call(sync.installationId, "POST /repos/{owner}/{repo}/check-runs", {
            owner,
            repo,
            head_sha: sync.headSha,
            ...body,
          })
        : await call(sync.installationId, "PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}", {
            owner,
            repo,
            check_run_id: checkRunId,
            ...body,
          });
    return { checkRunId: (response.data as { id: number }).id };
  }

  return {
    /**
     * The repository at `sha` as GitHub serves it (`GET /repos/{owner}/{repo}/tarball/{ref}`: a redirect to a
     * gzip tar with one top folder), with the installation's token; the body is left to stream.
     */
    async tarball(installationId: number, repository: string, sha: string): Promise<Response> {
      const { token } = await auth({ type: "installation", installationId });
      return fetch(`${apiUrl.replace(/\/+$/, "")}/repos/${repository}/tarball/${sha}`, {
        headers: { authorization: `token ${token}`, "user-agent": "flightcheck", "x-github-api-version": "2022-11-28" },
        signal: AbortSignal.timeout(TARBALL_TIMEOUT_MS),
      });
    },
    /** Creates or updates the suite run's one check run; 5xx and network errors are retried, the lookup with them. */
    syncCheckRun(sync: CheckRunSync): Promise<{ checkRunId: number }> {
      return withRetries(() => upsertCheckRun(sync));
    },
  };
}

/** Only when there are some: an update without annotations leaves GitHub's as they are. */
function annotationsOf(sync: CheckRunSync) {
  const annotations = renderAnnotations(sync);
  return annotations.length > 0 ? { annotations } : {};
}

async function withRetries<T>(attempt: () => Promise<T>): Promise<T> {
  for (let retry = 0; ; retry += 1) {
    try {
      return await attempt();
    } catch (error) {
      const delay = RETRY_DELAYS_MS[retry];
      // Octokit reports a network error or timeout as status 500 without a response.
      if (delay === undefined || statusOf(error) < 500) throw toGitHubError(error);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

const statusOf = (error: unknown) => Number((error as { status?: unknown } | null)?.status ?? 0);

/** "GitHub POST /repos/o/r/check-runs: 422 Invalid request…", from Octokit's RequestError. */
function toGitHubError(error: unknown): GitHubError {
  if (!(error instanceof Error)) return new GitHubError(`GitHub: ${String(error)}`, 0, error);
  const { request, response, status } = error as Error & {
    request?: { method: string; url: string };
    response?: unknown;
    status?: number;
  };
  const where = request ? ` ${request.method} ${new URL(request.url).pathname}` : "";
  if (typeof status !== "number") return new GitHubError(`GitHub${where}: ${error.message}`, 0, error);
  if (response === undefined) return new GitHubError(`GitHub${where}: no response: ${error.message}`, 0, error);
  return new GitHubError(`GitHub${where}: ${status} ${error.message}`, status, error);
}
