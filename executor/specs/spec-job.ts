/**
 * A repository suite's setup run in the executor (issue #17): download the repository at the commit, read
 * flightcheck.json, install its dependencies, then run its Playwright tests. When Playwright has listed them
 * (our reporter's onBegin) the Worker records one run per test; each test's steps stream to its own run's
 * live log and its result completes that run. The setup run ends COMPLETED once Playwright ran (the tests
 * carry their own verdicts), or FAILED with what a person fixes (bad config, npm ci failure) — never hangs.
 */
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ClaimedRun, RunCompletion, StepReport } from "../../schema/contracts.ts";
import { specSuiteFileSchema } from "../../schema/spec-file.ts";
import { secretScrubber } from "../../schema/scrub.ts";
import { type RunSecrets, type SpecSuitePayload, specSuitePayloadSchema } from "../../schema/spec-suites.ts";
import { browserEnvironment, LOOPBACK_ONLY_HOST_RULES, resolveChromium } from "../browser.ts";
import { type EgressPolicy, startEgressProxy } from "../egress.ts";
import type { JobContext } from "../run-job.ts";
import { stepStream } from "../step-stream.ts";
import { RunGone, type WorkerClient, workerClient } from "../worker-client.ts";
import { installDependencies, installEnvironment } from "./install.ts";
import { choosePlaywright } from "./playwright-choice.ts";
import { canRecordVideo, type ReporterEvent, runPlaywright } from "./playwright-run.ts";
import { unpackTarball } from "./tarball.ts";

export interface SpecContext {
  /** The repository's tarball at `sha`, with the installation's token (GitHub answers a gzip tar). */
  tarball(installationId: number, repository: string, sha: string): Promise<Response>;
  egress: EgressPolicy;
  loopbackOnly: boolean;
  cacheDir: string;
  installTimeoutMs: number;
  installMaxBytes: number;
}

/** A setup failure a person fixes in their repository: reported as the setup case's error. */
class SetupFailed extends Error {
  override name = "SetupFailed";
}

type TestEnd = Extract<ReporterEvent, { type: "testEnd" }>;

interface TestRun {
  api: WorkerClient;
  /** The steps of the test's latest attempt. */
  steps: StepReport[];
  stream: ReturnType<typeof stepStream>;
  /** Where an earlier attempt failed: a flaky test is annotated there. */
  retriedFrom?: TestEnd["error"];
  done: boolean;
}

/**
 * The suite's secrets go to the Playwright runner's environment only, and every report of the setup run and
 * its tests (and the completion returned here) is scrubbed of their values before it leaves the executor.
 */
export async function runSpecSuite(
  claimed: ClaimedRun,
  api: WorkerClient,
  context: JobContext,
  specs: SpecContext,
  signal: AbortSignal,
): Promise<RunCompletion> {
  const given = await api.secrets().catch((error: Error) => {
    if (error instanceof RunGone) throw error;
    return { secrets: {}, withheld: `the Worker did not give them: ${error.message}` };
  });
  const scrub = secretScrubber(Object.values(given.secrets));
  return scrub(await runTests(claimed, api.scrubbing(scrub), context, specs, signal, { ...given, scrub }));
}

async function runTests(
  claimed: ClaimedRun,
  api: WorkerClient,
  context: JobContext,
  specs: SpecContext,
  signal: AbortSignal,
  given: RunSecrets & { scrub: <T>(value: T) => T },
): Promise<RunCompletion> {
  const started = performance.now();
  const payload = specSuitePayloadSchema.safeParse(claimed.payload);
  if (!payload.success) return failed("The stored payload does not fit the spec-suite task");
  const work = await mkdtemp(join(tmpdir(), "flightcheck-spec-"));
  const proxy = await startEgressProxy(specs.egress);
  try {
    const repoDir = join(work, "repo");
    const setup = await prepare(payload.data, repoDir, specs);
    // A trace holds what the tests typed (a secret password) in a file we cannot scrub: none while secrets are given.
    const withSecrets = Object.keys(given.secrets).length > 0;
    const suite = withSecrets ? { ...setup.suite, trace: "off" as const } : setup.suite;
    const tests = new TestRuns(context, api, given.scrub);
    const env = browserEnvironment(process.env);
    const { executablePath, source } = resolveChromium(process.env);
    const video = canRecordVideo();
    const result = await runPlaywright({
      repoDir,
      suite,
      baseUrl: payload.data.baseUrl,
      choice: setup.choice,
      env,
      secrets: given.secrets,
      outputDir: join(work, "results"),
      video,
      shard: payload.data.shard,
      signal,
      onEvent: tests.handle,
      browser: {
        executablePath: source === "playwright" ? undefined : executablePath,
        proxyUrl: proxy.url,
        env,
        sandbox: process.getuid?.() !== 0,
        // WebRTC would otherwise send UDP around the proxy (as for JSON cases, executor/browser.ts).
        args: [
          "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
          ...(specs.loopbackOnly ? [`--host-resolver-rules=${LOOPBACK_ONLY_HOST_RULES}`] : []),
        ],
      },
    });
    const unfinished = await tests.finish(
      `Playwright exited (code ${result.code}) before this test ended:\n${result.output.slice(-1_500)}`,
    );
    const output = {
      playwright: { version: setup.choice.version, from: setup.choice.from, pinned: setup.choice.pinned },
      install: setup.install,
      recordings: withSecrets
        ? { trace: "off (the suite's secrets would be in it)", video: "off" }
        : { trace: suite.trace, video: video ? suite.trace : "off (no ffmpeg for Playwright)" },
      tests: tests.count,
      unfinished,
      secrets: { given: Object.keys(given.secrets), ...(given.withheld && { withheld: given.withheld }) },
      durationMs: Math.round(performance.now() - started),
    };
    if (tests.recordError) return failed(tests.recordError, output);
    // More shards than Playwright can split the tests into leave one with nothing to do: that shard went through.
    const emptyShard = payload.data.shard !== undefined && result.code === 0;
    if (tests.count === 0 && !emptyShard)
      return failed(`Playwright found no tests (exit ${result.code}):\n${result.output.slice(-1_500)}`, output);
    return { status: "COMPLETED", output, retryable: false, steps: [] };
  } catch (error) {
    if (error instanceof RunGone) throw error;
    return failed(error instanceof Error ? error.message : String(error));
  } finally {
    await proxy.close();
    await rm(work, { recursive: true, force: true });
  }
}

const failed = (message: string, output?: unknown): RunCompletion => ({
  status: "FAILED",
  error: { message: message.slice(0, 10_000) },
  output,
  retryable: false,
  steps: [],
});

/** Download, unpack, read and check flightcheck.json, install: what a test run needs before Playwright starts. */
async function prepare(payload: SpecSuitePayload, repoDir: string, specs: SpecContext) {
  const response = await specs.tarball(payload.installationId, payload.repository, payload.sha);
  if (!response.ok || !response.body)
    throw new SetupFailed(`GitHub did not serve ${payload.repository} at ${payload.sha}: HTTP ${response.status}`);
  await mkdir(repoDir);
  await unpackTarball(response.body, repoDir);
  const raw = await readFile(join(repoDir, payload.path), "utf8").catch(() => undefined);
  if (raw === undefined)
    throw new SetupFailed(`${payload.path} is not in ${payload.repository} at ${payload.sha.slice(0, 7)}`);
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (error) {
    throw new SetupFailed(`${payload.path} is not JSON: ${(error as Error).message}`);
  }
  const parsed = specSuiteFileSchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues
      .map((issue) => `${issue.path.join(".") || "(root)"}: ${issue.message}`)
      .join("; ");
    throw new SetupFailed(`${payload.path} is invalid: ${issues}`);
  }
  const suite = parsed.data;
  const install = await installDependencies(repoDir, {
    cacheDir: specs.cacheDir,
    scripts: suite.installScripts,
    timeoutMs: specs.installTimeoutMs,
    maxBytes: specs.installMaxBytes,
    env: {
      ...installEnvironment(process.env, browserEnvironment(process.env)),
      npm_config_cache: join(specs.cacheDir, "_npm"),
    },
  });
  return { suite, install, choice: await choosePlaywright(repoDir) };
}

/**
 * The runs of the listed tests: recorded when Playwright lists them, heartbeated while the runner lives, each
 * completed by its final result. Events are handled in order, one at a time.
 */
class TestRuns {
  private readonly runs = new Map<string, TestRun>();
  private chain: Promise<void> = Promise.resolve();
  private beating: NodeJS.Timeout | undefined;
  count = 0;

  private readonly context: JobContext;
  private readonly setup: WorkerClient;
  private readonly scrub: <T>(value: T) => T;

  constructor(context: JobContext, setup: WorkerClient, scrub: <T>(value: T) => T) {
    this.context = context;
    this.setup = setup;
    this.scrub = scrub;
  }

  /** Why the tests' runs could not be recorded: the setup run then fails with it. */
  recordError: string | undefined;

  handle = (event: ReporterEvent) => {
    this.chain = this.chain
      .then(() => this.apply(event))
      .catch((error) => this.context.log.warn(`${this.setup.friendlyId}: ${(error as Error).message}`));
  };

  private async apply(event: ReporterEvent): Promise<void> {
    if (event.type === "begin") return this.record(event.tests);
    if (event.type === "end" || event.type === "error") return;
    const run = this.runs.get(event.testId);
    if (!run || run.done) return;
    if (event.type === "testBegin") {
      // A retry starts its steps afresh: the run keeps the steps of the attempt that decided it.
      run.steps = [];
      return;
    }
    if (event.type === "step") {
      const index = event.status === "RUNNING" ? run.steps.length : run.steps.length - 1;
      const name = `${event.retry ? `retry ${event.retry}: ` : ""}${event.title}`.slice(0, 300);
      run.stream.push({
        index,
        action: "playwright",
        name,
        status: event.status,
        durationMs: event.durationMs,
        error: event.error?.slice(0, 10_000),
      });
      if (event.status !== "RUNNING" && index >= 0) {
        run.steps[index] = {
          index,
          action: event.category.slice(0, 50),
          label: event.title.slice(0, 300) || null,
          status: event.status,
          durationMs: event.durationMs ?? 0,
          error: event.error ?? null,
        };
      } else if (event.status === "RUNNING") {
        run.steps.push({
          index,
          action: event.category.slice(0, 50),
          label: event.title.slice(0, 300) || null,
          status: "SKIPPED",
          durationMs: 0,
          error: null,
        });
      }
      return;
    }
    if (event.type !== "testEnd") return;
    if (event.final) return this.complete(run, event);
    run.retriedFrom = event.error;
    // An earlier try that failed is what a flaky test's trace shows: kept beside the deciding one.
    await uploadRecordings(run.api, event, `try-${event.retry + 1}-`);
  }

  private async record(tests: Extract<ReporterEvent, { type: "begin" }>["tests"]): Promise<void> {
    this.count = tests.length;
    if (tests.length === 0) return;
    const recorded = await this.setup.specRuns(tests).catch((error: Error) => {
      if (error instanceof RunGone) throw error;
      this.recordError = `the tests' runs could not be recorded: ${error.message}`;
      return [];
    });
    for (const { id, testId, token } of recorded) {
      const api = workerClient(this.context.config.WORKER_URL, id.replace(/^run_/, ""), token, this.scrub);
      this.runs.set(testId, {
        api,
        steps: [],
        stream: stepStream(api, this.context.log, () => undefined),
        done: false,
      });
    }
    this.beating = setInterval(() => {
      for (const run of this.runs.values()) if (!run.done) run.api.heartbeat().catch(() => undefined);
    }, this.context.config.HEARTBEAT_INTERVAL_MS);
  }

  private async complete(run: TestRun, end: TestEnd): Promise<void> {
    run.done = true;
    await run.stream.flush();
    const steps = run.steps.filter(Boolean);
    const passed = end.outcome === "expected" || end.outcome === "flaky" || end.outcome === "skipped";
    const location = (end.outcome === "flaky" ? run.retriedFrom : end.error)?.location;
    await uploadRecordings(run.api, end);
    const output = {
      flaky: end.outcome === "flaky",
      retries: end.retry,
      outcome: end.outcome,
      durationMs: end.durationMs,
      ...(location && { location }),
    };
    if (passed) {
      await run.api.complete({ status: "COMPLETED", output, retryable: false, steps });
      return;
    }
    const screenshot = end.attachments.find((item) => item.name === "screenshot" && item.contentType === "image/png");
    const screenshotKey = screenshot ? await upload(run.api, "failure.png", screenshot) : undefined;
    const message = end.error?.message ?? `test ${end.status}`;
    const failedStep = steps.findLast((step) => step.status === "FAILED");
    if (failedStep)
      Object.assign(failedStep, { screenshotKey: screenshotKey ?? null, error: failedStep.error ?? message });
    else
      steps.push({
        index: steps.length,
        action: "test",
        label: "test body",
        status: "FAILED",
        durationMs: end.durationMs,
        error: message,
        screenshotKey: screenshotKey ?? null,
      });
    const status = end.status === "timedOut" ? "TIMED_OUT" : "FAILED";
    await run.api.complete({ status, error: { message }, output, retryable: false, steps });
  }

  /** After the runner exited: every test without a final result fails with why; returns how many. */
  async finish(why: string): Promise<number> {
    await this.chain;
    clearInterval(this.beating);
    const left = [...this.runs.values()].filter((run) => !run.done);
    await Promise.all(
      left.map(async (run) => {
        run.done = true;
        await run.stream.flush();
        await run.api
          .complete({ status: "FAILED", error: { message: why }, retryable: false, steps: run.steps.filter(Boolean) })
          .catch(() => undefined);
      }),
    );
    return left.length;
  }
}

/** The trace and video of a test's attempt, by Playwright's attachment name: the file each is kept as in the run. */
const RECORDINGS = new Map([
  ["trace", "trace.zip"],
  ["video", "video.webm"],
]);

/** Uploads what Playwright kept of the attempt's trace and video (per its `trace` mode), names prefixed by `prefix`. */
async function uploadRecordings(api: WorkerClient, end: TestEnd, prefix = ""): Promise<void> {
  const uploaded = new Set<string>();
  for (const attachment of end.attachments) {
    const file = RECORDINGS.get(attachment.name);
    // A test with several pages has several videos: the first page's is the one people look at.
    if (!file || uploaded.has(file)) continue;
    uploaded.add(file);
    await upload(api, `${prefix}${file}`, attachment);
  }
}

async function upload(
  api: WorkerClient,
  name: string,
  { path, contentType }: TestEnd["attachments"][number],
): Promise<string | undefined> {
  try {
    return (await api.upload(name, await readFile(path), contentType)).key;
  } catch {
    return undefined; // the result matters more than its artifacts
  }
}
