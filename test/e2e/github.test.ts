/**
 * The GitHub App end to end on the local stack, with a real local HTTP server standing in for GitHub (it
 * verifies the App JWT and the installation token): signed webhooks start suite runs, the executor posts
 * one check run per suite run, created, updated and completed with the right conclusion and summary.
 */
import { deliverWebhook, randomSha } from "../../scripts/pull-request.ts";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type DemoSite, startDemoSite } from "../../scripts/demo-site.ts";
import { demoSuite } from "../../scripts/demo-suite.ts";
import { type DevState, apiClient, devStack } from "../../scripts/dev-stack.ts";
import { DEV_INSTALLATION } from "../../scripts/seed.ts";
import { type FakeGitHub, generateAppKeyPair, startFakeGitHub } from "../../scripts/local-github.ts";

const APP_ID = "4242";
const INSTALLATION = DEV_INSTALLATION.id; // the dev organisation's, seeded by the local stack
const REPOSITORY = "acme/shop";
const keys = generateAppKeyPair();
let github: FakeGitHub;
let demo: DemoSite;
let dev: DevState;
let stack: Awaited<ReturnType<typeof devStack>>;
let suiteName: string;

beforeAll(async () => {
  [github, demo] = await Promise.all([startFakeGitHub({ appId: APP_ID, publicKey: keys.publicKey }), startDemoSite()]);
  stack = await devStack({
    env: { GITHUB_APP_ID: APP_ID, GITHUB_PRIVATE_KEY: keys.privateKey, GITHUB_API_URL: github.url },
  });
  dev = await stack.start();
  suiteName = "Demo store";
  const created = await api("POST", "/api/v1/suites", {
    name: suiteName,
    repository: REPOSITORY,
    baseUrl: demo.url,
    triggers: ["pull_request", "deployment_status"],
    cases: demoSuite.cases,
  });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
});
afterAll(async () => {
  await Promise.all([stack?.dispose(), github?.close(), demo?.close()]);
});

const api = (method: string, path: string, body?: unknown) => apiClient(dev)(method, path, body);

const deliver = (event: string, payload: unknown, options?: Parameters<typeof deliverWebhook>[3]) =>
  deliverWebhook(dev, event, payload, options);

const pullRequest = (sha: string, action = "opened") => ({
  action,
  number: 7,
  repository: { full_name: REPOSITORY, default_branch: "main" },
  installation: { id: INSTALLATION },
  pull_request: { number: 7, head: { sha, ref: "feature/tagline" } },
});

const checkRunsFor = (sha: string) => [...github.checkRuns.values()].filter((run) => run.head_sha === sha);
const createsFor = (sha: string) =>
  github.calls.filter((call) => call.method === "POST" && (call.body as { head_sha?: string })?.head_sha === sha);

function completedCheckRun(sha: string) {
  return vi.waitFor(
    () => {
      const done = checkRunsFor(sha).find((run) => run.status === "completed");
      expect(
        done,
        `check runs for ${sha}: ${JSON.stringify(checkRunsFor(sha).map((run) => run.status))}`,
      ).toBeDefined();
      return done!;
    },
    { timeout: 180_000, interval: 200 },
  );
}

describe("the GitHub App", () => {
  it("turns a signed pull_request into a suite run with one check run: queued → in_progress → completed", async () => {
    const sha = randomSha();
    expect(await deliver("pull_request", pullRequest(sha))).toMatchObject({ status: 202, body: { accepted: true } });
    const checkRun = await completedCheckRun(sha);
    expect(checkRun).toMatchObject({
      name: `flightcheck: ${suiteName}`,
      conclusion: "failure",
      details_url: expect.stringContaining("/runs/batch_"),
    });
    const output = checkRun.output as { title: string; summary: string };
    expect(output.title).toContain("3 passed, 1 failed");
    expect(output.summary).toContain("Free shipping on every order");
    expect(output.summary).toContain("/artifacts/1/failure.png");

    expect(createsFor(sha)).toHaveLength(1);
    const statuses = github.calls
      .filter(
        (call) =>
          createsFor(sha).includes(call) ||
          (call.method === "PATCH" && call.path.endsWith(`/check-runs/${checkRun.id}`)),
      )
      .map((call) => (call.body as { status?: string }).status);
    expect(statuses[0]).toBe("queued");
    expect(statuses).toContain("in_progress");

    const batch = await api("GET", `/api/v1/batches/${checkRun.external_id}`);
    expect(batch.body.counts).toMatchObject({ total: 4, completed: 3, failed: 1 });
  });

  it("keeps one check run when GitHub created it but its answer was lost", async () => {
    const sha = randomSha();
    github.loseNextAnswers(1, /^POST .*\/check-runs$/);
    expect((await deliver("pull_request", pullRequest(sha))).status).toBe(202);
    const checkRun = await completedCheckRun(sha);
    expect(createsFor(sha).map((call) => call.status)).toEqual([502]);
    expect(checkRunsFor(sha)).toEqual([checkRun]);
    expect(checkRun).toMatchObject({ conclusion: "failure", external_id: expect.stringMatching(/^batch_/) });
  });

  it("refuses a forged signature and records nothing", async () => {
    const sha = randomSha();
    const forged = await deliver("pull_request", pullRequest(sha), { secret: "not-the-webhook-secret" });
    expect(forged.status).toBe(401);
    const garbled = await fetch(`${dev.apiUrl}/webhooks/github`, {
      method: "POST",
      headers: {
        "x-github-event": "pull_request",
        "x-github-delivery": crypto.randomUUID(),
        "x-hub-signature-256": "sha256=zz",
      },
      body: JSON.stringify(pullRequest(sha)),
    });
    expect(garbled.status).toBe(401);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(createsFor(sha)).toHaveLength(0);
  });

  it("processes a replayed delivery once", async () => {
    const sha = randomSha();
    const delivery = crypto.randomUUID();
    const [first, second] = [
      await deliver("pull_request", pullRequest(sha), { delivery }),
      await deliver("pull_request", pullRequest(sha), { delivery }),
    ];
    expect(first.body).toMatchObject({ accepted: true });
    expect(second).toMatchObject({ status: 200, body: { duplicate: true } });
    await completedCheckRun(sha);
    expect(createsFor(sha)).toHaveLength(1);
  });

  it("re-runs the suite on the same commit when the check run is re-requested", async () => {
    const sha = randomSha();
    await deliver("pull_request", pullRequest(sha, "synchronize"));
    const first = await completedCheckRun(sha);
    const rerun = await deliver("check_run", {
      action: "rerequested",
      installation: { id: INSTALLATION },
      check_run: { id: first.id, external_id: first.external_id },
    });
    expect(rerun.status).toBe(202);
    await vi.waitFor(() => expect(checkRunsFor(sha).filter((run) => run.status === "completed")).toHaveLength(2), {
      timeout: 180_000,
      interval: 200,
    });
    const second = checkRunsFor(sha).find((run) => run.id !== first.id)!;
    expect(second.external_id).not.toBe(first.external_id);
  });

  it("runs against a successful deployment's target_url", async () => {
    const sha = randomSha();
    const targetUrl = `${demo.url}/?deployment=7`;
    const answer = await deliver("deployment_status", {
      action: "created",
      repository: { full_name: REPOSITORY },
      installation: { id: INSTALLATION },
      deployment: { sha, ref: "main" },
      deployment_status: { state: "success", target_url: targetUrl },
    });
    expect(answer.status).toBe(202);
    const checkRun = await completedCheckRun(sha);
    const batch = await api("GET", `/api/v1/batches/${checkRun.external_id}`);
    expect(batch.body.runs.map((run: { payload: { baseUrl: string } }) => run.payload.baseUrl)).toEqual(
      Array(4).fill(targetUrl),
    );
  });

  it("answers events it does not act on without doing anything", async () => {
    expect(await deliver("ping", { zen: "Keep it logically awesome." })).toMatchObject({ status: 200 });
    expect(await deliver("issues", { action: "opened" })).toMatchObject({ status: 202, body: { ignored: true } });
    expect(await deliver("pull_request", { ...pullRequest(randomSha()), action: "closed" })).toMatchObject({
      status: 202,
      body: { ignored: true },
    });
  });
});
