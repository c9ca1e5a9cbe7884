/**
 * Suites that live in the repository (issue #17), end to end on the local stack: the local GitHub stand-in
 * serves a fixture repository (test/fixtures/spec-repo: two passing specs, one failing, one flaky) as a
 * tarball; a pull_request webhook starts the suite; the executor downloads it at the head SHA, installs it,
 * runs its Playwright tests against the demo site and reports each test as a case of the suite run. A broken
 * flightcheck.json or an `npm ci` that fails ends in a completed check with the reason, not a hang.
 */
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DemoSite, startDemoSite } from "../../scripts/demo-site.ts";
import { type DevState, apiClient, devStack } from "../../scripts/dev-stack.ts";
import { type FakeGitHub, generateAppKeyPair, startFakeGitHub } from "../support/github.ts";
import { completedCheckRun, openPullRequest, randomSha } from "../support/pull-request.ts";
import { packRepository, packVariant } from "../support/repository-tarball.ts";

const APP_ID = "4243";
const REPOSITORY = "acme/specs";
const SHARDED_REPOSITORY = "acme/specs-sharded";
const FIXTURE = fileURLToPath(new URL("../fixtures/spec-repo", import.meta.url));
const keys = generateAppKeyPair();
let github: FakeGitHub;
let demo: DemoSite;
let dev: DevState;
let stack: Awaited<ReturnType<typeof devStack>>;

beforeAll(async () => {
  [github, demo] = await Promise.all([startFakeGitHub({ appId: APP_ID, publicKey: keys.publicKey }), startDemoSite()]);
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
  await Promise.all([stack?.dispose(), github?.close(), demo?.close()]);
});

/** Serves `tarball` as the repository at a new commit and opens a pull request on it; returns its completed check run. */
async function pullRequestAt(tarball: (top: string) => Promise<Buffer>, repository = REPOSITORY) {
  const sha = randomSha();
  github.serveTarball(repository, sha, await tarball(`acme-specs-${sha.slice(0, 7)}/`));
  expect(await openPullRequest(dev, repository, sha)).toBe(202);
  const checkRun = await completedCheckRun(github, sha);
  const batch = await apiClient(dev)("GET", `/api/v1/batches/${checkRun.external_id}`);
  return { checkRun: checkRun as any, runs: batch.body.runs as any[] };
}

describe("a suite that lives in the repository", () => {
  it("runs each Playwright test at the pull request's commit as its own case: passed, failed at its line, flaky", async () => {
    const { checkRun, runs } = await pullRequestAt((top) => packRepository(FIXTURE, top));
    const [setup, ...tests] = runs;
    expect(setup).toMatchObject({
      task: "spec-suite",
      status: "COMPLETED",
      output: { playwright: { version: "1.64.1", from: "repository" }, tests: 4 },
    });
    const byName = Object.fromEntries(tests.map((run) => [run.payload.name, run]));
    expect(Object.keys(byName).sort()).toEqual([
      "broken.spec.ts › about page promises free shipping",
      "flaky.spec.ts › home page loads on the second try",
      "home.spec.ts › about page says what the site is",
      "home.spec.ts › home page shows the store",
    ]);
    expect(byName["home.spec.ts › home page shows the store"]).toMatchObject({
      task: "spec-test",
      status: "COMPLETED",
      output: { flaky: false },
    });
    expect(byName["flaky.spec.ts › home page loads on the second try"]).toMatchObject({
      status: "COMPLETED",
      output: { flaky: true, retries: 1 },
    });
    const broken = byName["broken.spec.ts › about page promises free shipping"];
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
