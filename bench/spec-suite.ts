/**
 * A repository suite (issue #17) through flightcheck beside the same specs run bare: the fixture repository
 * (test/fixtures/spec-repo) with `npx playwright test` in a folder where `npm ci` already ran, and as a pull
 * request on the local stack (webhook → tarball → install → Playwright → every test's run → completed check).
 * The first pull request installs cold (an empty install cache; npm's own download cache as the machine has
 * it), the next ones link the cached install. `node bench/spec-suite.ts` runs it alone.
 */
import { spawnSync } from "node:child_process";
import { cp, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { SYSTEM_CHROMIUM } from "../executor/browser.ts";
import { startDemoSite } from "../scripts/demo-site.ts";
import { apiClient, devStack } from "../scripts/dev-stack.ts";
import { generateAppKeyPair, startFakeGitHub } from "../test/support/github.ts";
import { completedCheckRun, openPullRequest, randomSha } from "../test/support/pull-request.ts";
import { packRepository } from "../test/support/repository-tarball.ts";

const FIXTURE = fileURLToPath(new URL("../test/fixtures/spec-repo", import.meta.url));
const REPOSITORY = "acme/specs-bench";
const ROUNDS = 3;

const progress = (message: string) => console.error(`spec-suite bench: ${message}`);
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** `npx playwright test` on a copy of the fixture, with the same retries and the machine's Chromium. */
async function bare(siteUrl: string): Promise<{ installMs: number; runs: number[] }> {
  const dir = await mkdtemp(join(tmpdir(), "flightcheck-bare-"));
  try {
    await cp(FIXTURE, dir, { recursive: true });
    let started = performance.now();
    spawnSync("npm", ["ci", "--ignore-scripts", "--no-audit", "--no-fund", "--prefer-offline"], {
      cwd: dir,
      stdio: "ignore",
    });
    const installMs = performance.now() - started;
    await writeFile(
      join(dir, "bare.config.ts"),
      `import base from "./playwright.config.ts";\nexport default { ...base, retries: 1, use: { ...base.use, launchOptions: { executablePath: ${JSON.stringify(SYSTEM_CHROMIUM)} } } };\n`,
    );
    const runs: number[] = [];
    for (let round = 0; round < ROUNDS; round += 1) {
      started = performance.now();
      spawnSync("npx", ["playwright", "test", "--config", "bare.config.ts", "--reporter=dot"], {
        cwd: dir,
        stdio: "ignore",
        env: { ...process.env, SHOP_URL: siteUrl, CI: "1" },
      });
      runs.push(performance.now() - started);
      progress(`bare run: ${seconds(runs.at(-1)!)}`);
    }
    return { installMs, runs };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export async function benchSpecSuite(): Promise<Record<string, string | number>[]> {
  const keys = generateAppKeyPair();
  const [github, site] = await Promise.all([
    startFakeGitHub({ appId: "4244", publicKey: keys.publicKey }),
    startDemoSite(),
  ]);
  const cacheDir = await mkdtemp(join(tmpdir(), "flightcheck-bench-cache-"));
  const stack = await devStack({
    env: {
      GITHUB_APP_ID: "4244",
      GITHUB_PRIVATE_KEY: keys.privateKey,
      GITHUB_API_URL: github.url,
      SPEC_CACHE_DIR: cacheDir,
    },
  });
  try {
    const dev = await stack.start();
    progress("stack up");
    const created = await apiClient(dev)("POST", "/api/v1/suites", {
      name: "bench specs",
      repository: REPOSITORY,
      baseUrl: site.url,
      source: { kind: "repository" },
    });
    if (created.status !== 201) throw new Error(`suite not created: ${JSON.stringify(created.body)}`);
    const throughFlightcheck = async () => {
      const sha = randomSha();
      github.serveTarball(REPOSITORY, sha, await packRepository(FIXTURE, `acme-specs-bench-${sha.slice(0, 7)}/`));
      const started = performance.now();
      await openPullRequest(dev, REPOSITORY, sha);
      const checkRun = await completedCheckRun(github, sha);
      const elapsed = performance.now() - started;
      progress(`pull request through flightcheck: ${seconds(elapsed)}`);
      const batch = await apiClient(dev)("GET", `/api/v1/batches/${checkRun.external_id}`);
      return { elapsed, install: batch.body.runs[0].output.install as { cache: string; durationMs: number } };
    };
    const cold = await throughFlightcheck();
    const warm: number[] = [];
    for (let round = 0; round < ROUNDS; round += 1) warm.push((await throughFlightcheck()).elapsed);
    const plain = await bare(site.url);
    const ratio = median(warm) / median(plain.runs);
    return [
      {
        what: "npm ci (cold install cache)",
        bare: seconds(plain.installMs),
        flightcheck: `${seconds(cold.install.durationMs)} (${cold.install.cache})`,
        ratio: "",
      },
      {
        what: `4 specs, median of ${ROUNDS} (warm install cache)`,
        bare: seconds(median(plain.runs)),
        flightcheck: seconds(median(warm)),
        ratio: `${ratio.toFixed(2)}×`,
      },
      {
        what: "first pull request (cold: download + install + run)",
        bare: "",
        flightcheck: seconds(cold.elapsed),
        ratio: "",
      },
    ];
  } finally {
    await Promise.all([stack.dispose(), github.close(), site.close(), rm(cacheDir, { recursive: true, force: true })]);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) console.table(await benchSpecSuite());
