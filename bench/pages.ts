/**
 * Run pages as a person opening "Details" meets them, on the local stack: a finished demo suite run (three
 * cases passed, one failed with a screenshot) opened again and again in Chromium, each time in a fresh
 * context (nothing cached). Per page: first contentful paint (from navigation start, so the Worker's time
 * is in it) and the bytes the page transferred, headers included (CDP's encodedDataLength summed over every
 * request it made; the local stack compresses HTML as Cloudflare does), beside the same bodies uncompressed.
 * Three rounds, each figure the median of the rounds'.
 * Issue 9's budget: first paint < 300 ms and < 50 KiB transferred.
 */
import { type BrowserContext, chromium } from "playwright";
import { LOOPBACK_ONLY_HOST_RULES, resolveChromium } from "../executor/browser.ts";
import { startDemoSite } from "../scripts/demo-site.ts";
import { demoSuite } from "../scripts/demo-suite.ts";
import { type DevState, devStack, strictApiClient } from "../scripts/dev-stack.ts";
import { medianOfRounds, percentile } from "./stats.ts";

const SAMPLES = Number(process.env.BENCH_PAGE_SAMPLES ?? 60);
const ROUNDS = 3;
const WARMUP = 3;
const FIRST_PAINT_BUDGET_MS = 300;
const TRANSFER_BUDGET_KIB = 50;

type Row = Record<string, string | number>;

/** The browser globals read inside the page (the bench is typed for Node, not the DOM). */
interface PageGlobals {
  performance: {
    getEntriesByType(
      type: string,
    ): { name: string; startTime: number; requestStart?: number; responseStart?: number }[];
  };
  requestAnimationFrame(callback: () => void): void;
}

interface Sample {
  firstPaintMs: number;
  serverMs: number;
  bytes: number;
  /** The same bodies uncompressed. */
  decodedBytes: number;
  requests: number;
}

/** The demo suite, run once to its end: the suite run's page link. */
async function finishedSuiteRun(state: DevState, baseUrl: string): Promise<string> {
  const api = strictApiClient(state);
  const suite = await api("POST", "/api/v1/suites", {
    name: `${demoSuite.name} (bench)`,
    repository: "acme/shop",
    baseUrl,
    cases: demoSuite.cases,
  });
  const started = await api("POST", `/api/v1/suites/${suite.id}/runs`, { sha: "b".repeat(40), ref: "main" });
  const deadline = Date.now() + 120_000;
  while ((await api("GET", `/api/v1/batches/${started.id}`)).status !== "COMPLETED") {
    if (Date.now() > deadline) throw new Error(`suite run ${started.id} did not finish`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return started.pageUrl;
}

/** Opens `url` in a fresh context and waits for its first contentful paint and every request to finish. */
async function open(browser: { newContext(): Promise<BrowserContext> }, url: string): Promise<Sample> {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send("Network.enable");
    let bytes = 0;
    let decodedBytes = 0;
    let requests = 0;
    cdp.on("Network.dataReceived", (event) => {
      decodedBytes += event.dataLength;
    });
    cdp.on("Network.loadingFinished", (event) => {
      bytes += event.encodedDataLength;
      requests += 1;
    });
    await page.goto(url, { waitUntil: "networkidle" });
    const timing = await page.evaluate(async () => {
      const { performance, requestAnimationFrame } = globalThis as unknown as PageGlobals;
      const paint = () =>
        performance.getEntriesByType("paint").find((entry) => entry.name === "first-contentful-paint");
      while (!paint()) await new Promise<void>((resolve) => requestAnimationFrame(resolve));
      const [navigation] = performance.getEntriesByType("navigation");
      return { firstPaintMs: paint()!.startTime, serverMs: navigation!.responseStart! - navigation!.requestStart! };
    });
    return { ...timing, bytes, decodedBytes, requests };
  } finally {
    await context.close();
  }
}

/** Each figure is the median of the rounds' figures. */
function row(page: string, rounds: Sample[][]): Row {
  const figure = (value: (sample: Sample) => number, p: number) =>
    medianOfRounds(rounds, (samples) => percentile(samples.map(value), p));
  const firstPaintP99 = figure((sample) => sample.firstPaintMs, 99);
  const transferredP99 = figure((sample) => sample.bytes / 1024, 99);
  return {
    page,
    samples: rounds.flat().length,
    "first paint p50 (ms)": figure((sample) => sample.firstPaintMs, 50),
    "first paint p99 (ms)": firstPaintP99,
    "server answer p50 (ms)": figure((sample) => sample.serverMs, 50),
    "transferred p50 (KiB)": figure((sample) => sample.bytes / 1024, 50),
    "transferred p99 (KiB)": transferredP99,
    "uncompressed p50 (KiB)": figure((sample) => sample.decodedBytes / 1024, 50),
    requests: figure((sample) => sample.requests, 50),
    "within budget": firstPaintP99 < FIRST_PAINT_BUDGET_MS && transferredP99 < TRANSFER_BUDGET_KIB ? "yes" : "no",
  };
}

export async function benchPages(): Promise<Row[]> {
  const [stack, demo] = await Promise.all([devStack(), startDemoSite()]);
  const { executablePath, source } = resolveChromium();
  const browser = await chromium.launch({
    executablePath: source === "playwright" ? undefined : executablePath,
    chromiumSandbox: process.getuid?.() !== 0,
    args: [`--host-resolver-rules=${LOOPBACK_ONLY_HOST_RULES}`],
  });
  try {
    const state = await stack.start();
    const suiteRunUrl = await finishedSuiteRun(state, demo.url);
    // The failed case's own page, reached the way a person reaches it: its link on the suite run's page.
    const probe = await browser.newPage();
    await probe.goto(suiteRunUrl);
    const caseUrl = new URL(
      (await probe.locator("tbody tr", { hasText: "fails on purpose" }).locator("th a").getAttribute("href"))!,
      suiteRunUrl,
    ).href;
    await probe.close();

    const pages = [
      ["suite run (4 cases, 1 failed; screenshot behind its disclosure)", suiteRunUrl],
      ["failed case (screenshot shown)", caseUrl],
      // Chromium's own share of first paint: a small static page from a bare node:http server.
      ["reference: the demo site's /about", `${demo.url}/about`],
    ] as const;
    for (const [, url] of pages) for (let i = 0; i < WARMUP; i++) await open(browser, url);
    // Rounds, the pages taken in turn within each, so a slow moment of the machine hits them alike.
    const rounds = pages.map((): Sample[][] => []);
    for (let round = 0; round < ROUNDS; round++) {
      const taken = pages.map((): Sample[] => []);
      for (let i = 0; i < SAMPLES / ROUNDS; i++) {
        for (const [index, [, url]] of pages.entries()) taken[index]!.push(await open(browser, url));
      }
      for (const [index, samples] of taken.entries()) rounds[index]!.push(samples);
    }
    return pages.map(([page], index) => row(page, rounds[index]!));
  } finally {
    await browser.close();
    await Promise.all([stack.dispose(), demo.close()]);
  }
}
