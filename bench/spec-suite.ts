/**
 * A repository suite (issue #17) through flightcheck beside the same specs run bare: the fixture repository
 * (test/fixtures/spec-repo) with `npx playwright test` in a folder where `npm ci` already ran, and as a pull
 * request on the local stack (webhook → tarball → install → Playwright → every test's run → completed check).
 * Both sides run the same specs with the same retries, per-test timeout, workers (Playwright's default) and
 * Chromium with the same flags; rounds alternate between them, so a busy machine weighs on both alike.
 * The first pull request installs cold (empty install and npm caches: the packages come from the registry), the
 * next ones link the cached install; the bare side's `npm ci` starts from an empty npm cache as well.
 * `node bench/spec-suite.ts` runs it alone and replaces only its own section of bench/RESULTS.md.
 *
 * The bare runs are child processes started without blocking: the demo site they load lives in this process,
 * and a synchronous spawn would stop it from answering (every page.goto then waits out the test timeout).
 */
import { execFile } from "node:child_process";
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { fileURLToPath } from "node:url";
import { LOOPBACK_ONLY_HOST_RULES, resolveChromium } from "../executor/browser.ts";
import { startDemoSite } from "../scripts/demo-site.ts";
import { apiClient, type DevState, devStack } from "../scripts/dev-stack.ts";
import { generateAppKeyPair, type FakeGitHub, startFakeGitHub } from "../scripts/local-github.ts";
import { completedCheckRun, openPullRequest, randomSha } from "../scripts/pull-request.ts";
import { packRepository } from "../scripts/repository-tarball.ts";
import { machine, replaceResultsSection } from "./results.ts";
import { formatTable } from "./stats.ts";

const run = promisify(execFile);
const FIXTURE = fileURLToPath(new URL("../test/fixtures/spec-repo", import.meta.url));
const REPOSITORY = "acme/specs-bench";
const ROUNDS = 5;
const TARGET_RATIO = 1.3;
export const SPEC_SUITE_TITLE =
  "A repository's Playwright suite (4 specs: 2 pass, 1 fails, 1 flaky) through flightcheck beside " +
  "`npx playwright test`";

const progress = (message: string) => console.error(`spec-suite bench: ${message}`);
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const at = (iso: string | null) => (iso ? Date.parse(iso) : Number.NaN);

/** The fixture copied and installed, run with `npx playwright test` under the settings flightcheck gives it. */
async function bareFixture() {
  const dir = await mkdtemp(join(tmpdir(), "flightcheck-bare-"));
  await cp(FIXTURE, dir, { recursive: true });
  // Cold as the executor's first install is: its npm cache (under SPEC_CACHE_DIR) starts empty too.
  const npmCache = await mkdtemp(join(tmpdir(), "flightcheck-bare-npm-"));
  let started = performance.now();
  await run("npm", ["ci", "--ignore-scripts", "--no-audit", "--no-fund", "--prefer-offline"], {
    cwd: dir,
    env: { ...process.env, npm_config_cache: npmCache },
  });
  const installMs = performance.now() - started;
  await rm(npmCache, { recursive: true, force: true });
  const suite = JSON.parse(await readFile(join(dir, "flightcheck.json"), "utf8")) as {
    retries: number;
    timeoutMs: number;
  };
  const { executablePath, source } = resolveChromium();
  const launchOptions = {
    ...(source !== "playwright" && { executablePath }),
    args: [
      "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
      `--host-resolver-rules=${LOOPBACK_ONLY_HOST_RULES}`,
    ],
  };
  await writeFile(
    join(dir, "bare.config.ts"),
    `import base from "./playwright.config.ts";
export default {
  ...base,
  retries: ${suite.retries},
  timeout: ${suite.timeoutMs},
  use: { ...base.use, screenshot: "only-on-failure", launchOptions: ${JSON.stringify(launchOptions)} },
};
`,
  );
  return {
    installMs,
    async once(siteUrl: string): Promise<number> {
      started = performance.now();
      // Exit code 1: the failing spec fails, as it should.
      await run("npx", ["playwright", "test", "--config", "bare.config.ts", "--reporter=dot"], {
        cwd: dir,
        env: { ...process.env, SHOP_URL: siteUrl, CI: "1" },
      }).catch((error: { code?: number }) => {
        if (error.code !== 1) throw error;
      });
      const elapsed = performance.now() - started;
      progress(`bare npx playwright test: ${seconds(elapsed)}`);
      return elapsed;
    },
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
}

interface Timed {
  createdAt: string;
  startedAt: string | null;
  completedAt: string | null;
}

/** Where one pull request's time went, from the runs' own timestamps (same machine, same clock). */
interface Profile {
  elapsed: number;
  installMs: number;
  installCache: string;
  /** webhook sent → the setup run claimed by the executor */
  toClaim: number;
  /** claimed → Playwright listed the tests (tarball, unpack, install, Playwright's start) */
  toListed: number;
  /** first test listed → last test ended */
  tests: number;
  /** last test ended → setup run completed */
  toSetupDone: number;
  /** setup run completed → completed check run seen */
  toCheck: number;
}

async function throughFlightcheck(dev: DevState, github: FakeGitHub): Promise<Profile> {
  const sha = randomSha();
  github.serveTarball(REPOSITORY, sha, await packRepository(FIXTURE, `acme-specs-bench-${sha.slice(0, 7)}/`));
  const started = Date.now();
  await openPullRequest(dev, REPOSITORY, sha);
  const checkRun = await completedCheckRun(github, sha);
  const ended = Date.now();
  const batch = await apiClient(dev)("GET", `/api/v1/batches/${checkRun.external_id}`);
  const [setup, ...tests] = batch.body.runs as (Timed & { output: any })[];
  const listed = Math.min(...tests.map((test) => at(test.createdAt)));
  const lastEnded = Math.max(...tests.map((test) => at(test.completedAt)));
  const profile: Profile = {
    elapsed: ended - started,
    installMs: setup!.output.install.durationMs,
    installCache: setup!.output.install.cache,
    toClaim: at(setup!.startedAt) - started,
    toListed: listed - at(setup!.startedAt),
    tests: lastEnded - listed,
    toSetupDone: at(setup!.completedAt) - lastEnded,
    toCheck: ended - at(setup!.completedAt),
  };
  progress(`pull request through flightcheck: ${seconds(profile.elapsed)} (install ${profile.installCache})`);
  return profile;
}

export async function benchSpecSuite(): Promise<{
  figures: Record<string, string>[];
  profile: Record<string, string>[];
}> {
  const keys = generateAppKeyPair();
  const [github, site, bare] = await Promise.all([
    startFakeGitHub({ appId: "4244", publicKey: keys.publicKey }),
    startDemoSite(),
    bareFixture(),
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
    const cold = await throughFlightcheck(dev, github);
    const warm: Profile[] = [];
    const plain: number[] = [];
    for (let round = 0; round < ROUNDS; round += 1) {
      warm.push(await throughFlightcheck(dev, github));
      plain.push(await bare.once(site.url));
    }
    const ratio = median(warm.map((p) => p.elapsed)) / median(plain);
    const figures = [
      {
        what: "npm ci, cold (empty npm cache: downloaded from the registry)",
        bare: seconds(bare.installMs),
        flightcheck: `${seconds(cold.installMs)} (${cold.installCache})`,
        ratio: "",
        target: "",
      },
      {
        what: `the 4 specs, median of ${ROUNDS} (flightcheck: webhook → completed check, install cache warm)`,
        bare: seconds(median(plain)),
        flightcheck: seconds(median(warm.map((p) => p.elapsed))),
        ratio: `${ratio.toFixed(2)}×`,
        target: `≤ ${TARGET_RATIO}× (${ratio <= TARGET_RATIO ? "holds" : "misses"})`,
      },
      {
        what: "first pull request (cold install, then the specs)",
        bare: seconds(bare.installMs + plain[0]!),
        flightcheck: seconds(cold.elapsed),
        ratio: "",
        target: "",
      },
    ];
    const phase = (what: string, pick: (p: Profile) => number) => ({
      phase: what,
      cold: seconds(pick(cold)),
      "warm median": seconds(median(warm.map(pick))),
    });
    const profile = [
      phase("webhook → setup run claimed (record, queue, executor)", (p) => p.toClaim),
      phase("claimed → tests listed (tarball, unpack, install, Playwright start)", (p) => p.toListed),
      phase("  of which the install (npm ci or linking the cached one)", (p) => p.installMs),
      phase("first test listed → last test ended (browser, reporting)", (p) => p.tests),
      phase("last test ended → setup run completed (Playwright exits)", (p) => p.toSetupDone),
      phase("setup run completed → check run completed", (p) => p.toCheck),
      phase("total", (p) => p.elapsed),
    ];
    return { figures, profile };
  } finally {
    await Promise.all([
      stack.dispose(),
      github.close(),
      site.close(),
      bare.dispose(),
      rm(cacheDir, { recursive: true, force: true }),
    ]);
  }
}

/** The section RESULTS.md holds: both tables and where they were measured. */
export const specSuiteSection = ({ figures, profile }: Awaited<ReturnType<typeof benchSpecSuite>>) =>
  `${formatTable(figures)}\n\nWhere flightcheck's time goes (from the runs' timestamps):\n\n${formatTable(profile)}`;

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  // Other work on the machine slows both sides alike (rounds alternate), but it shows in every figure.
  const loadAtStart = loadavg()[0]!.toFixed(2);
  const body = specSuiteSection(await benchSpecSuite());
  const load = `load average ${loadAtStart} at start, ${loadavg()[0]!.toFixed(2)} at end`;
  console.log(`\n${SPEC_SUITE_TITLE}\n\n${body}\n\n${load}`);
  replaceResultsSection(
    SPEC_SUITE_TITLE,
    `${new Date().toISOString()} · ${machine()} · ${load} · \`node bench/spec-suite.ts\`\n\n${body}`,
  );
}
