/**
 * What each step of the case language does on a page, and how a step is named to a person. Timeouts, failure
 * classification and results are the case runner's business (run-case.ts); this module only acts and asserts.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { Locator, Page } from "playwright";
import { expect } from "playwright/test";
import type { Step, Target } from "../schema/steps.ts";
import { EGRESS_FAILED_HEADER, EGRESS_REFUSED_HEADER } from "./egress.ts";

export type WaitForTokenStep = Extract<Step, { action: "waitForToken" }>;

export interface TokenWait {
  ok: boolean;
  output: unknown;
}

export interface StepContext {
  baseUrl: string;
  timeoutMs: number;
  signal: AbortSignal;
  waitForToken(step: WaitForTokenStep, signal: AbortSignal): Promise<TokenWait>;
  /** Why the egress policy refused a request at or after `since` (ms since the epoch), if it did. */
  egressRefusalSince?(since: number): string | undefined;
}

/** A screenshot step's image, or a token's output. */
export type StepOutcome = { screenshot?: Buffer; output?: unknown };

/** Assertions: a failure means the site is wrong, so it is never worth retrying. */
export const EXPECTATIONS: ReadonlySet<Step["action"]> = new Set([
  "expectText",
  "expectVisible",
  "expectUrl",
  "expectTitle",
]);

export class StepFailure extends Error {
  override name = "StepFailure";
}

export async function performStep(page: Page, step: Step, context: StepContext): Promise<StepOutcome> {
  const { timeoutMs: timeout } = context;
  switch (step.action) {
    case "goto":
      await goto(page, resolveUrl(step.url, context.baseUrl), context);
      return {};
    case "click":
      await locate(page, step.target).click({ timeout });
      return {};
    case "fill":
      await locate(page, step.target).fill(step.value, { timeout });
      return {};
    case "press":
      if (step.target) await locate(page, step.target).press(step.key, { timeout });
      else await page.keyboard.press(step.key);
      return {};
    case "select":
      await locate(page, step.target).selectOption(step.value ?? step.values ?? [], { timeout });
      return {};
    case "check":
      await locate(page, step.target).setChecked(step.checked, { timeout });
      return {};
    case "expectText": {
      const target = expect(locate(page, step.target));
      await (step.exact ? target.toHaveText(step.text, { timeout }) : target.toContainText(step.text, { timeout }));
      return {};
    }
    case "expectVisible": {
      const target = expect(locate(page, step.target));
      await (step.visible ? target.toBeVisible({ timeout }) : target.toBeHidden({ timeout }));
      return {};
    }
    case "expectUrl": {
      const expected =
        typeof step.url === "string" ? resolveUrl(step.url, context.baseUrl) : new RegExp(step.url.pattern);
      await expect(page).toHaveURL(expected, { timeout });
      return {};
    }
    case "expectTitle":
      await expect(page).toHaveTitle(step.title, { timeout });
      return {};
    case "waitFor":
      if (step.target) await locate(page, step.target).waitFor({ state: "visible", timeout });
      else await sleep(step.ms, undefined, { signal: context.signal });
      return {};
    case "screenshot":
      return { screenshot: await page.screenshot({ fullPage: step.fullPage, timeout }) };
    case "waitForToken": {
      const token = await context.waitForToken(step, context.signal);
      if (!token.ok)
        throw new StepFailure(
          `token "${step.idempotencyKey}" timed out after ${step.timeoutMs} ms without being completed`,
        );
      return { output: token.output };
    }
  }
}

/**
 * A navigation the egress proxy refused fails with the policy's reason: a plain-HTTP hop (first or redirect)
 * comes back as the proxy's marked 403, an HTTPS one as a failed tunnel. A plain-HTTP site the proxy could not
 * reach fails as Chromium would have failed it (net::ERR_…), not as a loaded 502 page.
 */
async function goto(page: Page, url: string, context: StepContext): Promise<void> {
  const started = Date.now();
  let response: Awaited<ReturnType<Page["goto"]>>;
  try {
    response = await page.goto(url, { timeout: context.timeoutMs });
  } catch (error) {
    const tunnelFailed = /net::ERR_TUNNEL_CONNECTION_FAILED/.test((error as Error).message);
    const refused = tunnelFailed && context.egressRefusalSince?.(started);
    throw refused ? new StepFailure(refused) : error;
  }
  const refused = response?.headers()[EGRESS_REFUSED_HEADER];
  if (refused) throw new StepFailure(refused);
  const failed = response?.headers()[EGRESS_FAILED_HEADER];
  if (failed) throw new Error(`page.goto: net::${failed} at ${url}`);
}

function locate(page: Page, target: Target): Locator {
  if (typeof target === "string") return page.locator(target);
  if ("role" in target)
    return page.getByRole(target.role as Parameters<Page["getByRole"]>[0], { name: target.name, exact: target.exact });
  if ("label" in target) return page.getByLabel(target.label);
  if ("text" in target) return page.getByText(target.text, { exact: target.exact });
  if ("testId" in target) return page.getByTestId(target.testId);
  return page.getByPlaceholder(target.placeholder);
}

/** Relative URLs resolve against the case's baseUrl like a link would; only http(s) may be opened. */
function resolveUrl(url: string, baseUrl: string): string {
  const resolved = URL.parse(url, baseUrl);
  if (!resolved) throw new StepFailure(`"${url}" is not a valid URL`);
  if (resolved.protocol !== "http:" && resolved.protocol !== "https:")
    throw new StepFailure(`${resolved.protocol} URLs are not allowed: ${url}`);
  return resolved.href;
}

/** A short description of what a step does, e.g. `click role=button "Sign in"` or `goto /login`. */
export function describeStep(step: Step): string {
  switch (step.action) {
    case "goto":
      return `goto ${step.url}`;
    case "press":
      return `press ${step.key}${step.target ? ` on ${describeTarget(step.target)}` : ""}`;
    case "select":
      return `select ${JSON.stringify(step.value ?? step.values)} in ${describeTarget(step.target)}`;
    case "fill":
    case "click":
    case "check":
    case "expectText":
    case "expectVisible":
      return `${step.action} ${describeTarget(step.target)}`;
    case "expectUrl":
      return `expectUrl ${typeof step.url === "string" ? step.url : `pattern=${JSON.stringify(step.url.pattern)}`}`;
    case "expectTitle":
      return `expectTitle ${JSON.stringify(step.title)}`;
    case "waitFor":
      return step.target ? `waitFor ${describeTarget(step.target)}` : `waitFor ${step.ms} ms`;
    case "screenshot":
      return "screenshot";
    case "waitForToken":
      return `waitForToken ${JSON.stringify(step.idempotencyKey)}`;
  }
}

function describeTarget(target: Target): string {
  if (typeof target === "string") return target;
  if ("role" in target)
    return `role=${target.role}${target.name === undefined ? "" : ` ${JSON.stringify(target.name)}`}`;
  const [kind, value] = Object.entries(target).find(([key]) => key !== "exact")!;
  return `${kind}=${JSON.stringify(value)}`;
}
