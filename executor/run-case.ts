/**
 * Runs one browser case (DESIGN §7): a fresh context, the steps in order, each under its own timeout and all
 * under the case's; the result names the failing step, what was expected and what was found, and carries a
 * screenshot of the page at failure. The context is closed however the case ends.
 */
import { errors, type BrowserContext, type Page } from "playwright";
import { MAX_ARTIFACT_BYTES, MAX_STEP_SCREENSHOTS } from "../schema/contracts.ts";
import type { StepEvent } from "../schema/live.ts";
import type { Case, Step } from "../schema/steps.ts";
import { cutText } from "../schema/storable.ts";
import type { BrowserCasePayload } from "../schema/tasks.ts";
import { interpolate } from "../schema/templates.ts";
import {
  describeStep,
  EXPECTATIONS,
  performStep,
  StepFailure,
  type TokenWait,
  type WaitForTokenStep,
} from "./steps.ts";

/** Playwright's own timeout (with its clearer message) fires first; the guard only catches what ignores it. */
const GUARD_GRACE_MS = 1_000;
/** A token's timeout is enforced by whoever completes it; give them a moment to say so. */
const TOKEN_GRACE_MS = 5_000;
const FAILURE_SCREENSHOT_TIMEOUT_MS = 2_000;
/** A wedged browser must not hold the case open. */
const CLOSE_WAIT_MS = 5_000;
const MAX_MESSAGE_LINES = 15;
const MAX_MESSAGE_CHARS = 2_000;

export type CaseStatus = "COMPLETED" | "FAILED" | "TIMED_OUT";

export interface StepResult {
  index: number;
  action: Step["action"];
  /** The step's own name, or what it does (`click role=button "Sign in"`). */
  name: string;
  status: "PASSED" | "FAILED" | "SKIPPED";
  durationMs: number;
  error?: string;
}

export interface Artifact {
  name: string;
  stepIndex: number;
  body: Buffer;
}

export interface CaseResult {
  status: CaseStatus;
  durationMs: number;
  steps: StepResult[];
  error?: { message: string; stepIndex?: number };
  /** Only navigation/network errors and browser crashes: another attempt may pass. */
  retryable: boolean;
  /** PNG of the page when the case failed or timed out. */
  screenshot?: Buffer;
  /** Images taken by `screenshot` steps, at most MAX_STEP_SCREENSHOTS of at most MAX_ARTIFACT_BYTES each. */
  artifacts: Artifact[];
  /** What the report should say beside the steps: screenshots left out, and why. */
  notes: string[];
}

export interface RunCaseHooks {
  /** Called as each step starts and ends; must not throw. */
  onStep?(event: StepEvent): void;
  /** Resolves when the token is completed (`ok`) or timed out; `signal` aborts when the case ends first. */
  waitForToken(step: WaitForTokenStep, signal: AbortSignal): Promise<TokenWait>;
  /** Aborting ends the case promptly (FAILED, not retryable). */
  signal?: AbortSignal;
}

/** A SharedBrowser, or a plain Playwright Browser. */
export interface ContextSource {
  newContext(): Promise<BrowserContext>;
  /** A SharedBrowser's egress proxy: why it refused a request (explains a failed navigation). */
  refusalSince?(since: number): string | undefined;
}

interface Failure {
  status: "FAILED" | "TIMED_OUT";
  message: string;
  stepIndex?: number;
  retryable: boolean;
}

/** Why the case stopped early: its own timeout, or the caller's abort. */
class CaseStopped extends Error {
  override name = "CaseStopped";
  status: Failure["status"];
  constructor(status: Failure["status"], message: string) {
    super(message);
    this.status = status;
  }
}

export async function runCase(
  source: ContextSource,
  { case: testCase, baseUrl }: BrowserCasePayload,
  hooks: RunCaseHooks,
): Promise<CaseResult> {
  const started = performance.now();
  const stop = new AbortController();
  const caseTimer = setTimeout(
    () => stop.abort(new CaseStopped("TIMED_OUT", `case timed out after ${testCase.timeoutMs} ms`)),
    testCase.timeoutMs,
  );
  const abort = () => stop.abort(new CaseStopped("FAILED", "case aborted"));
  if (hooks.signal?.aborted) abort();
  hooks.signal?.addEventListener("abort", abort, { once: true });

  const steps: StepResult[] = testCase.steps.map((step, index) => ({
    index,
    action: step.action,
    name: step.name ?? describeStep(step),
    status: "SKIPPED",
    durationMs: 0,
  }));
  const artifacts: Artifact[] = [];
  const notes: string[] = [];
  let failure: Failure | undefined;
  let screenshot: Buffer | undefined;

  const opening = source.newContext();
  try {
    const page = await guard(
      opening.then((context) => context.newPage()),
      stop.signal,
      Infinity,
    ).catch((error: unknown) => {
      failure = stopped(stop.signal) ?? {
        status: "FAILED",
        message: `could not open a browser page: ${cleanMessage(error)}`,
        retryable: true,
      };
      return undefined;
    });
    if (page) {
      page.on("crash", () => crashed.add(page));
      const egressRefusalSince = (since: number) => source.refusalSince?.(since);
      const state = { hooks, stop: stop.signal, steps, artifacts, notes, egressRefusalSince };
      failure = await runSteps(page, testCase, baseUrl, state);
      if (failure && !hooks.signal?.aborted && isAlive(page)) screenshot = await failureScreenshot(page);
      if (screenshot && screenshot.length > MAX_ARTIFACT_BYTES) {
        notes.push(
          `failure screenshot not kept: ${screenshot.length} bytes is over the limit of ${MAX_ARTIFACT_BYTES}`,
        );
        screenshot = undefined;
      }
    }
  } finally {
    clearTimeout(caseTimer);
    hooks.signal?.removeEventListener("abort", abort);
    stop.abort(new CaseStopped("FAILED", "case ended")); // a token wait the guard gave up on stops too
    await closeWithin(opening, CLOSE_WAIT_MS);
  }

  return {
    status: failure?.status ?? "COMPLETED",
    durationMs: Math.round(performance.now() - started),
    steps,
    ...(failure && { error: { message: failure.message, stepIndex: failure.stepIndex } }),
    retryable: failure?.retryable ?? false,
    ...(screenshot && { screenshot }),
    artifacts,
    notes,
  };
}

interface RunState {
  hooks: RunCaseHooks;
  stop: AbortSignal;
  steps: StepResult[];
  artifacts: Artifact[];
  notes: string[];
  egressRefusalSince(since: number): string | undefined;
}

/** Runs the steps in order until one fails; returns that failure. */
async function runSteps(page: Page, testCase: Case, baseUrl: string, state: RunState): Promise<Failure | undefined> {
  const { hooks, stop, steps, egressRefusalSince } = state;
  const variables: Record<string, unknown> = {};
  for (const [index, step] of testCase.steps.entries()) {
    const result = steps[index]!;
    const stepStarted = performance.now();
    hooks.onStep?.({ index, action: step.action, name: result.name, status: "RUNNING" });
    try {
      stop.throwIfAborted();
      const timeoutMs = stepTimeout(step, testCase);
      const context = { baseUrl, timeoutMs, signal: stop, waitForToken: hooks.waitForToken, egressRefusalSince };
      const outcome = await guard(
        Promise.resolve().then(() => performStep(page, interpolate(step, variables), context)),
        stop,
        timeoutMs + GUARD_GRACE_MS,
      );
      if (outcome.screenshot)
        keepScreenshot(state, { name: step.name ?? `screenshot-${index}`, stepIndex: index, body: outcome.screenshot });
      if (step.action === "waitForToken" && step.saveAs) variables[step.saveAs] = outcome.output;
      Object.assign(result, { status: "PASSED", durationMs: Math.round(performance.now() - stepStarted) });
      hooks.onStep?.({
        index,
        action: step.action,
        name: result.name,
        status: "PASSED",
        durationMs: result.durationMs,
      });
    } catch (error) {
      const failure = failureOf(error, step, index, stop, page);
      Object.assign(result, {
        status: "FAILED",
        durationMs: Math.round(performance.now() - stepStarted),
        error: failure.message,
      });
      hooks.onStep?.({
        index,
        action: step.action,
        name: result.name,
        status: "FAILED",
        durationMs: result.durationMs,
        error: failure.message,
      });
      return failure;
    }
  }
  return undefined;
}

/** Keeps a step's screenshot within the case's caps; one left out is noted, and its step still passes. */
function keepScreenshot({ artifacts, notes }: RunState, artifact: Artifact): void {
  const why =
    artifact.body.length > MAX_ARTIFACT_BYTES
      ? `${artifact.body.length} bytes is over the limit of ${MAX_ARTIFACT_BYTES}`
      : artifacts.length >= MAX_STEP_SCREENSHOTS
        ? `a case keeps at most ${MAX_STEP_SCREENSHOTS} screenshots`
        : undefined;
  if (why) notes.push(`steps[${artifact.stepIndex}] screenshot not kept: ${why}`);
  else artifacts.push(artifact);
}

/** A step's own timeoutMs, else the case's; a token wait or a fixed wait may take as long as it says. */
function stepTimeout(step: Step, testCase: Case): number {
  if (step.action === "waitForToken") return step.timeoutMs + TOKEN_GRACE_MS;
  const timeout = step.timeoutMs ?? testCase.stepTimeoutMs;
  return step.action === "waitFor" && step.ms !== undefined ? Math.max(timeout, step.ms) : timeout;
}

function failureOf(error: unknown, step: Step, index: number, stop: AbortSignal, page: Page): Failure {
  const where = `steps[${index}] ${describeStep(step)}${step.name ? ` ("${step.name}")` : ""}`;
  const early = stopped(stop);
  if (early) return { ...early, message: `${early.message} during ${where}`, stepIndex: index };
  const message = cleanMessage(error);
  if (!isAlive(page))
    return {
      status: "FAILED",
      message: `${where}: the browser crashed or disconnected: ${message}`,
      stepIndex: index,
      retryable: true,
    };
  // A page that would not load may load next time; a page that loaded but is wrong will be wrong again.
  const navigationError =
    (step.action === "goto" && error instanceof errors.TimeoutError) ||
    (!EXPECTATIONS.has(step.action) && /net::ERR_/.test(message));
  return { status: "FAILED", message: `${where}: ${message}`, stepIndex: index, retryable: navigationError };
}

function stopped(stop: AbortSignal): Failure | undefined {
  if (!stop.aborted) return undefined;
  const reason = stop.reason as CaseStopped;
  return { status: reason.status, message: reason.message, retryable: false };
}

/** Settles with `work`, or rejects as soon as the case stops or `timeoutMs` passes (`work` is then abandoned). */
function guard<T>(work: Promise<T>, stop: AbortSignal, timeoutMs: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onStop = () => reject(stop.reason);
    const timer = Number.isFinite(timeoutMs)
      ? setTimeout(() => reject(new StepFailure(`did not finish within ${timeoutMs} ms`)), timeoutMs)
      : undefined;
    stop.addEventListener("abort", onStop, { once: true });
    work.then(resolve, reject).finally(() => {
      clearTimeout(timer);
      stop.removeEventListener("abort", onStop);
    });
  });
}

/** The page as it is at failure. A navigation still pending (a hanging goto) blocks screenshots, so stop it first. */
async function failureScreenshot(page: Page): Promise<Buffer | undefined> {
  try {
    const cdp = await page.context().newCDPSession(page);
    await cdp.send("Page.stopLoading");
    await cdp.detach();
    return await page.screenshot({ timeout: FAILURE_SCREENSHOT_TIMEOUT_MS });
  } catch {
    return undefined;
  }
}

/** Pages whose renderer crashed (Playwright keeps them open but they can do nothing). */
const crashed = new WeakSet<Page>();
const isAlive = (page: Page) =>
  !page.isClosed() && page.context().browser()?.isConnected() !== false && !crashed.has(page);

async function closeWithin(opening: Promise<BrowserContext>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    opening.then((context) => context.close()).catch(() => undefined),
    new Promise((resolve) => (timer = setTimeout(resolve, ms))),
  ]);
  clearTimeout(timer);
}

/** Playwright's message without its terminal colours, cut to what a person reads in a check run. */
export function cleanMessage(error: unknown): string {
  const raw = error instanceof Error ? error.message : String(error);
  const lines = raw
    .replace(/\u001b\[[\d;]*m/g, "")
    .trimEnd()
    .split("\n");
  const short =
    lines.length > MAX_MESSAGE_LINES ? [...lines.slice(0, MAX_MESSAGE_LINES), "…"].join("\n") : lines.join("\n");
  return short.length > MAX_MESSAGE_CHARS ? `${cutText(short, MAX_MESSAGE_CHARS)}…` : short;
}
