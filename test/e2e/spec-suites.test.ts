/**
 * Suites that live in the repository (issue #17), end to end on the local stack: the local GitHub stand-in
 * serves a fixture repository (test/fixtures/spec-repo: two passing specs, one failing, one flaky) as a
 * tarball; a pull_request webhook starts the suite; the executor downloads it at the head SHA, installs it,
 * runs its Playwright tests against the demo site and reports each test as a case of the suite run. A broken
 * flightcheck.json or an `npm ci` that fails ends in a completed check with the reason, not a hang.
 */
import { fileURLToPath } from "node:url";
import { expect as expectPage } from "playwright/test";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type SharedBrowser, launchSharedBrowser } from "../../executor/browser.ts";
import { canRecordVideo } from "../../executor/specs/playwright-run.ts";
import { type DemoSite, startDemoSite } from "../../scripts/demo-site.ts";
import { type DevState, apiClient, devStack } from "../../scripts/dev-stack.ts";
import { mintPageToken } from "../../worker/runs/tokens.ts";
import { type FakeGitHub, generateAppKeyPair, startFakeGitHub } from "../../scripts/local-github.ts";
import { completedCheckRun, openPullRequest, randomSha } from "../../scripts/pull-request.ts";
import { packRepository, packVariant } from "../../scripts/repository-tarball.ts";

const APP_ID = "4243";
const REPOSITORY = "acme/specs";
const SHARDED_REPOSITORY = "acme/specs-sharded";
const FIXTURE = fileURLToPath(new URL("../fixtures/spec-repo", import.meta.url));
const keys = generateAppKeyPair();
let github: FakeGitHub;
let demo: DemoSite;
let dev: DevState;
let stack: Awaited<ReturnType<typeof devStack>>;
let browser: SharedBrowser;

beforeAll(async () => {
  [github, demo, browser] = await Promise.all([
    startFakeGitHub({ appId: APP_ID, publicKey: keys.publicKey }),
    startDemoSite(),
    launchSharedBrowser({ logger: { info() {}, warn() {} }, egress: { allowPrivate: true } }),
  ]);
  stack = await devStack({
    env: { GITHUB_APP_ID: APP_ID, GITHUB_PRIVATE_KEY: keys.privateKey, GITHUB_API_URL: github.url },
  });
  dev = await stack.start();
  const created = await apiClient(dev)("POST", "/api/v1/suites", {
    name: "Shop specs",
    repository: REPOSITORY,
    baseUrl: demo.url,
    source: { kind: "repository" },
  });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  expect(created.body).toMatchObject({ source: { kind: "repository", path: "flightcheck.json" }, cases: [] });
});
afterAll(async () => {
  await Promise.all([stack?.dispose(), github?.close(), demo?.close(), browser?.close()]);
});

/** Serves `tarball` as the repository at a new commit, opens a pull request on it; returns its completed check run. */
async function pullRequestAt(tarball: (top: string) => Promise<Buffer>, repository = REPOSITORY) {
  const sha = randomSha();
  github.serveTarball(repository, sha, await tarball(`acme-specs-${sha.slice(0, 7)}/`));
  expect(await openPullRequest(dev, repository, sha)).toBe(202);
  const checkRun = await completedCheckRun(github, sha);
  const batch = await apiClient(dev)("GET", `/api/v1/batches/${checkRun.external_id}`);
  return { checkRun: checkRun as any, runs: batch.body.runs as any[] };
}

/** The fixture repository's pull request, run once and looked at by several tests. */
let fixtureRun: ReturnType<typeof pullRequestAt> | undefined;
const runFixture = () => (fixtureRun ??= pullRequestAt((top) => packRepository(FIXTURE, top)));
const BROKEN = "broken.spec.ts › about page promises free shipping";
const FLAKY = "flaky.spec.ts › home page loads on the second try";
const PASSING = "home.spec.ts › home page shows the store";

describe("a suite that lives in the repository", () => {
  it("runs each Playwright test at the commit as its own case: passed, failed at its line, flaky", async () => {
    const { checkRun, runs } = await runFixture();
    const [setup, ...tests] = runs;
    expect(setup).toMatchObject({
      task: "spec-suite",
      status: "COMPLETED",
      output: { playwright: { version: "1.64.1", from: "repository" }, tests: 4 },
    });
    const byName = Object.fromEntries(tests.map((run) => [run.payload.name, run]));
    expect(Object.keys(byName).sort()).toEqual([
      BROKEN,
      FLAKY,
      "home.spec.ts › about page says what the site is",
      PASSING,
    ]);
    expect(byName[PASSING]).toMatchObject({
      task: "spec-test",
      status: "COMPLETED",
      output: { flaky: false },
    });
    expect(byName[FLAKY]).toMatchObject({
      status: "COMPLETED",
      output: { flaky: true, retries: 1 },
    });
    const broken = byName[BROKEN];
    expect(broken).toMatchObject({ status: "FAILED", output: { location: { file: "tests/broken.spec.ts", line: 5 } } });
    expect(broken.error.message).toContain("Free shipping on every order");
    const { body: brokenRun } = await apiClient(dev)("GET", `/api/v1/runs/${broken.id}`);
    expect(brokenRun.steps.some((step: any) => step.status === "FAILED" && step.screenshotUrl)).toBe(true);

    expect(checkRun.conclusion).toBe("failure");
    // The setup run went through, so it is no case of the check: two passing tests, the flaky one, the broken one.
    expect(checkRun.output.title).toBe("3 passed (1 flaky), 1 failed");
    expect(checkRun.output.summary).toContain("⚠️ flaky");
    expect(checkRun.output.annotations).toEqual([
      expect.objectContaining({ path: "tests/broken.spec.ts", start_line: 5, annotation_level: "failure" }),
      expect.objectContaining({ path: "tests/flaky.spec.ts", start_line: 6, annotation_level: "warning" }),
    ]);
  });

  it("keeps a failed test's trace, video and screenshot; our viewer opens it with the page's token", async () => {
    const { checkRun, runs } = await runFixture();
    const byName = Object.fromEntries(runs.map((run) => [run.payload.name, run]));
    const token = new URL(checkRun.details_url).searchParams.get("token")!;
    const artifact = (run: any, name: string, query = `?token=${token}`) =>
      fetch(`${dev.apiUrl}/runs/${run.id}/artifacts/1/${name}${query}`);

    const trace = await artifact(byName[BROKEN], "trace.zip");
    expect(trace.status).toBe(200);
    expect(trace.headers.get("content-type")).toBe("application/zip");
    expect(
      Buffer.from(await trace.arrayBuffer())
        .subarray(0, 2)
        .toString(),
    ).toBe("PK");
    // Video needs Playwright's own ffmpeg, which Debian's Chromium comes without: the setup case says which.
    const video = await artifact(byName[BROKEN], "video.webm");
    const recordsVideo = canRecordVideo();
    expect(video.status).toBe(recordsVideo ? 200 : 404);
    await video.body?.cancel();
    expect(runs[0].output.recordings).toEqual({
      trace: "retain-on-failure",
      video: recordsVideo ? "retain-on-failure" : "off (no ffmpeg for Playwright)",
    });
    const screenshot = await artifact(byName[BROKEN], "failure.png");
    expect([screenshot.status, screenshot.headers.get("content-type")]).toEqual([200, "image/png"]);
    await screenshot.body?.cancel();
    // retain-on-failure, the default: a flaky test keeps its failed try's trace, a passing test none.
    expect((await artifact(byName[FLAKY], "try-1-trace.zip")).status).toBe(200);
    expect((await artifact(byName[FLAKY], "trace.zip")).status).toBe(404);
    expect((await artifact(byName[PASSING], "trace.zip")).status).toBe(404);

    // Never public: no token, or a page token for another run of the same environment, is refused.
    const { env } = JSON.parse(Buffer.from(token.split(".")[0]!, "base64url").toString()) as { env: string };
    const otherRunsToken = await mintPageToken(dev.signingSecret, env, byName[PASSING].id);
    expect((await artifact(byName[BROKEN], "trace.zip", "")).status).toBe(401);
    expect((await artifact(byName[BROKEN], "trace.zip", `?token=${otherRunsToken}`)).status).toBe(404);

    // The viewer is static (not in the Worker script) and never passes its address, token included, on as a referrer.
    const viewer = await fetch(`${dev.apiUrl}/trace/index.html`);
    expect([viewer.status, viewer.headers.get("referrer-policy")]).toEqual([200, "no-referrer"]);
    await viewer.body?.cancel();

    // The run page links "Open trace" to the trace viewer we serve; in Chromium it shows the failing test's actions.
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      await page.goto(`${dev.apiUrl}/runs/${byName[BROKEN].id}?token=${token}`);
      await page.getByRole("link", { name: "Open trace", exact: true }).click();
      await expectPage(page).toHaveURL(/\/trace\/index\.html\?trace=/);
      const action = (text: string) => page.getByRole("treeitem").filter({ hasText: text }).first();
      await expectPage(action("Navigate")).toContainText("/about", { timeout: 60_000 });
      await expectPage(action('Expect "toHaveText"')).toContainText("getByRole('heading', { level: 1 })");
    } finally {
      await context.close();
    }
  });

  it("splits the tests across shards, each a setup run of its own that records and runs its share", async () => {
    const sharded = await apiClient(dev)("POST", "/api/v1/suites", {
      name: "Shop specs, sharded",
      repository: SHARDED_REPOSITORY,
      baseUrl: demo.url,
      source: { kind: "repository", shards: 2 },
    });
    expect(sharded.body).toMatchObject({ source: { kind: "repository", shards: 2 } });
    const { checkRun, runs } = await pullRequestAt((top) => packRepository(FIXTURE, top), SHARDED_REPOSITORY);
    const setups = runs.filter((run) => run.task === "spec-suite");
    const tests = runs.filter((run) => run.task === "spec-test");
    expect(setups.map((run) => [run.payload.shard, run.status])).toEqual([
      [{ index: 1, total: 2 }, "COMPLETED"],
      [{ index: 2, total: 2 }, "COMPLETED"],
    ]);
    // Each shard listed and ran a share of its own; together they are the whole suite, each test once.
    const shares = setups.map((setup) => tests.filter((run) => run.metadata.recordedBy === setup.id).length);
    expect(shares.every((share) => share > 0)).toBe(true);
    expect(shares).toEqual(setups.map((setup) => setup.output.tests));
    expect(tests.map((run) => run.payload.name).sort()).toEqual([
      "broken.spec.ts › about page promises free shipping",
      "flaky.spec.ts › home page loads on the second try",
      "home.spec.ts › about page says what the site is",
      "home.spec.ts › home page shows the store",
    ]);
    expect(checkRun.output.title).toBe("3 passed (1 flaky), 1 failed");
  });

  it("completes the check with the reason when flightcheck.json is invalid or npm ci fails", async () => {
    const invalid = pullRequestAt((top) =>
      packVariant(FIXTURE, top, { "flightcheck.json": JSON.stringify({ retries: 99 }) }),
    );
    const outOfStep = pullRequestAt((top) =>
      packVariant(FIXTURE, top, {
        "package.json": JSON.stringify({
          name: "spec-repo-fixture",
          devDependencies: { "@playwright/test": "1.64.1", "left-pad": "1.3.0" },
        }),
      }),
    );
    for (const [{ checkRun, runs }, reason] of [
      [await invalid, "flightcheck.json is invalid: retries"],
      [await outOfStep, "npm ci failed"],
    ] as const) {
      expect(checkRun.conclusion).toBe("failure");
      expect(runs).toHaveLength(1);
      expect(runs[0]).toMatchObject({ task: "spec-suite", status: "FAILED" });
      expect(runs[0].error.message).toContain(reason);
    }
  });
});
