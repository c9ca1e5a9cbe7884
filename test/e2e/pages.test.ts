/**
 * Run pages in real Chromium on the local stack, reached the way a person reaches them: "Details" on a
 * GitHub check run (a local stand-in for GitHub records it). The suite run's page follows the run live
 * without a reload; a failing case shows its step, message and screenshot; a tampered or expired link
 * shows the error page; the page reads on a phone.
 */
import type { BrowserContext, Page } from "playwright";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type SharedBrowser, launchSharedBrowser } from "../../executor/browser.ts";
import { type DemoSite, startDemoSite } from "../../scripts/demo-site.ts";
import { demoSuite } from "../../scripts/demo-suite.ts";
import { type DevState, apiClient, devStack } from "../../scripts/dev-stack.ts";
import { signToken } from "../../worker/runs/tokens.ts";
import { type FakeGitHub, generateAppKeyPair, startFakeGitHub } from "../../scripts/local-github.ts";
import { openPullRequest } from "../../scripts/pull-request.ts";

// The browser globals the page callbacks below read: this file is typed for Node, not the DOM.
declare const document: {
  documentElement: { scrollWidth: number };
  querySelector(selector: string): { textContent: string | null } | null;
  querySelectorAll(selector: string): Iterable<unknown>;
};
declare const window: { innerWidth: number };
declare function getComputedStyle(element: unknown): { color: string };
interface HTMLImageElement {
  complete: boolean;
  naturalWidth: number;
}

const APP_ID = "4243";
const REPOSITORY = "acme/storefront";
const SUITE = "Storefront";
const GATE_KEY = `preview-${crypto.randomUUID()}`;
const FAILING = demoSuite.cases[3]!;
const keys = generateAppKeyPair();
const quiet = { info() {}, warn() {} };

let github: FakeGitHub;
let demo: DemoSite;
let stack: Awaited<ReturnType<typeof devStack>>;
let dev: DevState;
let browser: SharedBrowser;
let context: BrowserContext;
/** The suite run's page, opened once from the check run's details link and kept open across the tests. */
let page: Page;
let detailsUrl: string;
const sha = crypto.randomUUID().replaceAll("-", "").padEnd(40, "0");

beforeAll(async () => {
  [github, demo, browser] = await Promise.all([
    startFakeGitHub({ appId: APP_ID, publicKey: keys.publicKey }),
    startDemoSite(),
    launchSharedBrowser({ logger: quiet, egress: { allowPrivate: true } }),
  ]);
  stack = await devStack({
    env: { GITHUB_APP_ID: APP_ID, GITHUB_PRIVATE_KEY: keys.privateKey, GITHUB_API_URL: github.url },
  });
  dev = await stack.start();
  const created = await api("POST", "/api/v1/suites", {
    name: SUITE,
    repository: REPOSITORY,
    baseUrl: demo.url,
    triggers: ["pull_request"],
    cases: [
      // Holds the suite run open until the test lets it go, so the page is seen running first.
      {
        name: "Preview is ready",
        steps: [
          { action: "waitForToken", idempotencyKey: GATE_KEY, timeoutMs: 60_000 },
          { action: "goto", url: "/about" },
        ],
      },
      demoSuite.cases[2]!,
      FAILING,
    ],
  });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  context = await browser.newContext();
  page = await context.newPage();
});
afterAll(async () => {
  await context?.close();
  await Promise.all([stack?.dispose(), github?.close(), demo?.close(), browser?.close()]);
});

const api = (method: string, path: string, body?: unknown) => apiClient(dev)(method, path, body);

const checkRunOf = (sha: string, done: (run: Record<string, unknown>) => boolean) =>
  vi.waitFor(
    () => {
      const found = [...github.checkRuns.values()].find((run) => run.head_sha === sha && done(run));
      expect(found, `no such check run for ${sha} yet`).toBeDefined();
      return found!;
    },
    { timeout: 180_000, interval: 100 },
  );

const statusText = (target: Page = page) => target.locator("#status").innerText();

/** The page token's claims, read from its (signed, not secret) body. */
const claimsOf = (url: string) =>
  JSON.parse(Buffer.from(new URL(url).searchParams.get("token")!.split(".")[0]!, "base64url").toString()) as {
    sub: string;
    env: string;
  };

async function expectReadable(small: Page) {
  const layout = await small.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
  }));
  expect(layout.scrollWidth).toBeLessThanOrEqual(layout.innerWidth);
  expect(await small.locator("header").count()).toBe(1);
  expect(await small.locator("main").count()).toBe(1);
  expect(await small.locator('[role="status"]').count()).toBe(1);
  expect(await small.locator("table caption").count()).toBeGreaterThan(0);
  expect(await small.locator('thead th[scope="col"]').count()).toBeGreaterThanOrEqual(4);
  // The cards a narrow screen shows are still a table with column headers to assistive technology.
  expect(await small.getByRole("table").first().getByRole("columnheader").count()).toBe(4);
  const contrasts = await small.evaluate(() => {
    const luminance = (color: string) => {
      const [r, g, b] = color
        .match(/\d+/g)!
        .slice(0, 3)
        .map((channel) => {
          const value = Number(channel) / 255;
          return value <= 0.03928 ? value / 12.92 : ((value + 0.055) / 1.055) ** 2.4;
        });
      return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
    };
    // Every coloured text sits on the page's white.
    return [...document.querySelectorAll("main .st, main .note, main dt, main a")].map(
      (element) => 1.05 / (luminance(getComputedStyle(element).color) + 0.05),
    );
  });
  expect(Math.min(...contrasts)).toBeGreaterThanOrEqual(4.5);
}

describe("run pages in Chromium", () => {
  it("opens the check run's Details link and follows the suite run to completed without a reload", async () => {
    expect(await openPullRequest(dev, REPOSITORY, sha)).toBe(202);
    detailsUrl = (await checkRunOf(sha, () => true)).details_url as string;
    expect(detailsUrl).toMatch(new RegExp(`^${dev.apiUrl}/runs/batch_\\w+\\?token=[\\w-]+\\.[\\w-]+$`));

    const navigations: string[] = [];
    page.on("framenavigated", (frame) => navigations.push(frame.url()));
    const response = await page.goto(detailsUrl);
    expect(response?.status()).toBe(200);
    expect(await page.locator("h1").innerText()).toBe(`Suite run: ${SUITE}`);
    // The gated case cannot finish before the test lets it: whatever else ran, the suite run is not over.
    expect(await statusText()).toMatch(/^. (Queued|Running) · [0-2] of 3 cases finished/);
    const loaded = navigations.length;

    // Let the gated case go: the suite runs to its end while the page stays open.
    const token = await api("POST", "/api/v1/waitpoints/tokens", { idempotencyKey: GATE_KEY });
    await api("POST", `/api/v1/waitpoints/tokens/${token.body.id}/complete`, { data: {} });
    await page.waitForFunction(
      () => document.querySelector("#status")?.textContent?.includes("3 of 3 cases finished"),
      null,
      { timeout: 180_000 },
    );

    expect(await statusText()).toBe("✗ Failed · 3 of 3 cases finished, 2 passed, 1 failed");
    expect(navigations).toHaveLength(loaded);
    expect(await page.title()).toBe(`Failed · Suite run: ${SUITE} · flightcheck`);
    const rows = page.locator("tbody tr");
    expect(await rows.locator("th").allInnerTexts()).toEqual([
      "Preview is ready",
      demoSuite.cases[2]!.name,
      FAILING.name,
    ]);
    expect(await rows.locator("td:nth-child(2)").allInnerTexts()).toEqual(["✓ Passed", "✓ Passed", "✗ Failed"]);
    // Live is over: the page no longer watches.
    expect(await page.locator("main").getAttribute("data-live")).toBe("");
  });

  it("shows a failing case's step, message and screenshot, on the suite run's page and the case's own", async () => {
    const row = page.locator("tbody tr", { hasText: FAILING.name });
    expect(await row.locator("td p").innerText()).toBe("Step 2: tagline mentions free shipping");
    expect(await row.locator("td pre").innerText()).toContain("Free shipping on every order");
    await row.getByText("Screenshot").click();
    const thumbnail = row.locator("img");
    await thumbnail.waitFor();
    await page.waitForFunction((image) => (image as HTMLImageElement).complete, await thumbnail.elementHandle());
    expect(await thumbnail.evaluate((image: HTMLImageElement) => image.naturalWidth)).toBeGreaterThan(0);

    await row.getByRole("link", { name: FAILING.name, exact: true }).click();
    await page.waitForURL(/\/runs\/run_/);
    expect(await page.locator("h1").innerText()).toBe(FAILING.name);
    expect(await statusText()).toBe("✗ Failed · attempt 1 of 3");
    expect(await page.getByRole("heading", { name: "What failed" }).isVisible()).toBe(true);
    const shot = page.getByRole("img", { name: "The page when step 2 failed" });
    await shot.scrollIntoViewIfNeeded();
    await page.waitForFunction(
      (image) => (image as HTMLImageElement).complete && (image as HTMLImageElement).naturalWidth > 0,
      await shot.elementHandle(),
    );
    expect(await page.locator("caption").allInnerTexts()).toEqual(["Steps of attempt 1 of 3"]);

    // The check run's summary links the same screenshot, openable by anyone who can read the pull request.
    const completed = await checkRunOf(sha, (run) => run.status === "completed");
    const screenshotUrl = /\[screenshot\]\(([^)]+)\)/.exec((completed.output as { summary: string }).summary)?.[1];
    expect(screenshotUrl).toMatch(new RegExp(`^${dev.apiUrl}/runs/run_\\w+/artifacts/1/failure\\.png\\?token=`));
    const image = await fetch(screenshotUrl!);
    expect(image.headers.get("content-type")).toBe("image/png");
  });

  it("shows the error page for a tampered or expired link, and nothing of the run", async () => {
    const token = new URL(detailsUrl).searchParams.get("token")!;
    const tampered = detailsUrl.replace(
      token,
      `${token.slice(0, 20)}${token[20] === "A" ? "B" : "A"}${token.slice(21)}`,
    );
    const { sub, env } = claimsOf(detailsUrl);
    const expiredToken = await signToken(dev.signingSecret, { scope: "page", sub, env }, -60);
    const expired = `${dev.apiUrl}/runs/${sub}?token=${expiredToken}`;
    for (const url of [tampered, expired]) {
      const response = await page.goto(url);
      expect(response?.status()).toBe(401);
      expect(await page.locator("h1").innerText()).toBe("This link does not work");
      const text = await page.locator("body").innerText();
      expect(text).toContain("has expired");
      for (const secret of [SUITE, FAILING.name, REPOSITORY, sub]) expect(text).not.toContain(secret);
    }
    const unparseable = await page.goto(`${dev.apiUrl}/runs/batch_nope?token=${token}`);
    expect(unparseable?.status()).toBe(400);
    expect(await page.locator("h1").innerText()).toBe("Not a run address");
  });

  it("reads on a phone: no sideways scroll, landmarks, a captioned table, status in words at AA contrast", async () => {
    const phone = await browser.newContext({ viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true });
    try {
      const small = await phone.newPage();
      await small.goto(detailsUrl);
      await expectReadable(small);
      await small.locator("tbody th a").last().click();
      await small.waitForURL(/\/runs\/run_/);
      await expectReadable(small);
    } finally {
      await phone.close();
    }
  });
});
