/**
 * Runs a repository's Playwright tests under flightcheck's rules, unchanged: a wrapper config beside the
 * repository's own imports it and only overrides what we must (our reporter, the preview URL, the browser
 * binary, the egress proxy, the browser's minimal environment, timeouts, retries and traces from flightcheck.json,
 * no web servers of its own). The runner and its workers get a minimal environment too (no executor secrets).
 * Events arrive from our reporter (reporter.mjs) over the IPC channel.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright";
import type { SpecSuiteFile } from "../../schema/spec-file.ts";
import type { SpecTest } from "../../schema/spec-suites.ts";
import { killGroup } from "./install.ts";
import type { PlaywrightChoice } from "./playwright-choice.ts";

export type ReporterEvent =
  | { type: "begin"; tests: SpecTest[] }
  | { type: "testBegin"; testId: string; retry: number }
  | {
      type: "step";
      testId: string;
      retry: number;
      title: string;
      category: string;
      status: "RUNNING" | "PASSED" | "FAILED";
      durationMs?: number;
      error?: string;
    }
  | {
      type: "testEnd";
      testId: string;
      retry: number;
      final: boolean;
      status: "passed" | "failed" | "timedOut" | "skipped" | "interrupted";
      outcome?: "expected" | "unexpected" | "flaky" | "skipped";
      durationMs: number;
      error?: { message: string; location?: SpecTest["location"] };
      attachments: { name: string; path: string; contentType: string }[];
    }
  | { type: "error"; error?: { message: string } }
  | { type: "end"; status: string };

const require = createRequire(import.meta.url);
const REPORTER = join(dirname(fileURLToPath(import.meta.url)), "reporter.mjs");
const WRAPPER_NAME = ".flightcheck.playwright.config.ts";

/**
 * Whether Playwright can record video here: it needs its own ffmpeg build, installed beside its browsers
 * (`npx playwright install ffmpeg`; the Playwright image has it, Debian's Chromium comes without).
 */
export function canRecordVideo(): boolean {
  const core = dirname(require.resolve("playwright-core/package.json"));
  const { browsers } = JSON.parse(readFileSync(join(core, "browsers.json"), "utf8")) as {
    browsers: { name: string; revision: string }[];
  };
  const ffmpeg = browsers.find((browser) => browser.name === "ffmpeg");
  // Playwright's browsers folder: <folder>/chromium-<revision>/chrome-linux64/chrome.
  const folder = dirname(dirname(dirname(chromium.executablePath())));
  return !!ffmpeg && existsSync(join(folder, `ffmpeg-${ffmpeg.revision}`, "ffmpeg-linux"));
}

export interface BrowserRules {
  executablePath?: string;
  proxyUrl: string;
  args: string[];
  env: Record<string, string>;
  sandbox: boolean;
}

export interface RunOptions {
  repoDir: string;
  suite: SpecSuiteFile;
  baseUrl: string;
  browser: BrowserRules;
  choice: PlaywrightChoice;
  /** The environment the runner gets (minimal: no executor secrets). */
  env: Record<string, string>;
  outputDir: string;
  /** Record video as `suite.trace` says (see canRecordVideo). */
  video: boolean;
  /** Only this share of the tests (Playwright's `--shard`). */
  shard?: { index: number; total: number };
  onEvent(event: ReporterEvent): void;
  signal: AbortSignal;
}

/** Writes the wrapper config beside the repository's config; returns its path. */
async function writeWrapper({ repoDir, suite }: Pick<RunOptions, "repoDir" | "suite">): Promise<string> {
  const config = join(repoDir, suite.config);
  if (!existsSync(config))
    throw new Error(`${suite.config} (the Playwright config flightcheck.json names) is not in the repository`);
  const wrapper = join(dirname(config), WRAPPER_NAME);
  // Settings travel in FLIGHTCHECK_PLAYWRIGHT, so the file holds no value of ours to escape.
  await writeFile(
    wrapper,
    `import base from ${JSON.stringify(`./${basename(config)}`)};
const settings = JSON.parse(process.env.FLIGHTCHECK_PLAYWRIGHT!);
const rules = (use: any = {}) => ({
  ...use,
  baseURL: settings.baseURL,
  screenshot: "only-on-failure",
  trace: settings.trace,
  video: settings.video,
  launchOptions: {
    ...(use.launchOptions ?? {}),
    executablePath: settings.executablePath,
    chromiumSandbox: settings.sandbox,
    env: settings.browserEnv,
    proxy: { server: settings.proxyUrl },
    args: [...(use.launchOptions?.args ?? []), ...settings.args],
  },
});
const config: any = (base as any) ?? {};
export default {
  ...config,
  ...(settings.testDir ? { testDir: settings.testDir } : {}),
  timeout: settings.timeoutMs,
  globalTimeout: settings.globalTimeoutMs,
  retries: settings.retries,
  reporter: [[settings.reporter]],
  outputDir: settings.outputDir,
  webServer: undefined,
  use: rules(config.use),
  projects: config.projects?.map((project: any) => ({ ...project, use: rules({ ...config.use, ...project.use }) })),
};
`,
  );
  return wrapper;
}

/** Runs the tests; resolves with the runner's exit code and the tail of its output once it has exited. */
export async function runPlaywright(options: RunOptions): Promise<{ code: number | null; output: string }> {
  const { repoDir, suite, baseUrl, browser, choice, env, outputDir, video, shard, onEvent, signal } = options;
  const wrapper = await writeWrapper(options);
  const settings = {
    baseURL: baseUrl,
    executablePath: browser.executablePath,
    sandbox: browser.sandbox,
    browserEnv: browser.env,
    proxyUrl: browser.proxyUrl,
    args: browser.args,
    testDir: suite.testDir,
    timeoutMs: suite.timeoutMs,
    globalTimeoutMs: suite.globalTimeoutMs,
    retries: suite.retries,
    trace: suite.trace,
    video: video ? suite.trace : "off",
    reporter: REPORTER,
    outputDir,
  };
  const args = [
    choice.cli,
    "test",
    "--config",
    wrapper,
    ...(suite.project ? ["--project", suite.project] : []),
    ...(shard ? [`--shard=${shard.index}/${shard.total}`] : []),
  ];
  const child: ChildProcess = spawn(process.execPath, args, {
    cwd: repoDir,
    env: {
      ...env,
      [suite.baseUrlEnv]: baseUrl,
      FLIGHTCHECK_PLAYWRIGHT: JSON.stringify(settings),
      FLIGHTCHECK_REPO_ROOT: repoDir,
      // The executor's own @playwright/test, for a repository that does not install one.
      ...(choice.from === "executor" && {
        NODE_PATH: join(dirname(require.resolve("@playwright/test/package.json")), "..", ".."),
      }),
      CI: "1",
    },
    stdio: ["ignore", "pipe", "pipe", "ipc"],
    detached: true,
  });
  let output = "";
  const keep = (chunk: Buffer) => (output = (output + chunk.toString("utf8")).slice(-4_000));
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  child.on("message", (message) => onEvent(message as ReporterEvent));
  const stop = () => killGroup(child.pid);
  signal.addEventListener("abort", stop, { once: true });
  // Past its own global timeout (and a grace), the runner is stopped whatever it is doing.
  const guard = setTimeout(stop, suite.globalTimeoutMs + 30_000);
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once("error", reject);
      // "close", not "exit": by then the IPC channel has delivered every event the reporter sent.
      child.once("close", (exitCode) => resolve(exitCode));
    });
    return { code, output: output.replace(/\u001b\[[\d;]*m/g, "").trim() };
  } finally {
    clearTimeout(guard);
    signal.removeEventListener("abort", stop);
  }
}
