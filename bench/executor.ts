/**
 * The executor as a user feels it, on the local stack:
 * - a 20-case suite through trigger → queue → executor → results, beside the same steps written as a bare
 *   Playwright script in one browser (target ≤ 1.3×), and the executor's peak memory (Node + its Chromium);
 * - the hand-offs a user waits on (./handoffs.ts);
 * - how late alarm-driven timeouts fire: a case waits on a token with a 2 s timeout; the lateness is the
 *   time from the token's timeoutAt to the run's resumption in its RunDO log.
 */
import { readFileSync, readdirSync } from "node:fs";
import { chromium, type Page } from "playwright";
import { expect } from "playwright/test";
import WebSocket from "ws";
import { resolveChromium } from "../executor/browser.ts";
import { DEMO_CREDENTIALS, startDemoSite } from "../scripts/demo-site.ts";
import { demoSuite } from "../scripts/demo-suite.ts";
import { type DevState, devStack, strictApiClient } from "../scripts/dev-stack.ts";
import { benchHandoffs } from "./handoffs.ts";
import { percentile } from "./stats.ts";

const SUITE_SIZE = 20;
const REPETITIONS = Number(process.env.BENCH_REPETITIONS ?? 3);
const TIMEOUT_SAMPLES = Number(process.env.BENCH_TIMEOUT_SAMPLES ?? 5);
const TOKEN_TIMEOUT_MS = 2_000;

type Row = Record<string, string | number>;

/** The three demo cases that pass, cycled to 20. */
const passing = demoSuite.cases.slice(0, 3);
const suite = Array.from({ length: SUITE_SIZE }, (_, index) => passing[index % passing.length]!);

/** The same three cases, written by hand against Playwright. */
const bareCases: ((page: Page, baseUrl: string) => Promise<void>)[] = [
  async (page, baseUrl) => {
    await page.goto(`${baseUrl}/login`);
    await page.getByLabel("Email").fill(DEMO_CREDENTIALS.email);
    await page.getByLabel("Password").fill(DEMO_CREDENTIALS.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect(page).toHaveURL(`${baseUrl}/dashboard`);
    await expect(page.getByRole("heading", { name: "Welcome back" })).toContainText("Welcome back");
  },
  async (page, baseUrl) => {
    await page.goto(`${baseUrl}/todos`);
    await page.getByPlaceholder("What needs doing?").fill("Repot the fern");
    await page.getByLabel("Priority").selectOption("high");
    await page.getByRole("button", { name: "Add" }).click();
    await expect(page.getByTestId("todo-list")).toContainText("Repot the fern");
    await page.getByRole("checkbox", { name: "Repot the fern" }).check();
    await expect(page.getByTestId("todo-count")).toHaveText("1 open");
  },
  async (page, baseUrl) => {
    await page.goto(`${baseUrl}/`);
    await expect(page).toHaveTitle("Home · Flightcheck Demo");
    await page.getByRole("link", { name: "About" }).click();
    await expect(page).toHaveURL(`${baseUrl}/about`);
    await expect(page).toHaveTitle("About · Flightcheck Demo");
  },
];

async function bareSuite(baseUrl: string): Promise<number> {
  const started = performance.now();
  const { executablePath, source } = resolveChromium();
  const browser = await chromium.launch({ executablePath: source === "playwright" ? undefined : executablePath });
  for (let index = 0; index < SUITE_SIZE; index++) {
    const context = await browser.newContext();
    await bareCases[index % bareCases.length]!(await context.newPage(), baseUrl);
    await context.close();
  }
  await browser.close();
  return performance.now() - started;
}

/** Trigger to the batch's final status event on its WebSocket: what a person watching it sees. */
async function stackSuite(state: DevState, baseUrl: string): Promise<{ ms: number; passed: number }> {
  const api = strictApiClient(state);
  const started = performance.now();
  const batch = await api("POST", "/api/v1/tasks/batch", {
    items: suite.map((testCase) => ({ task: "browser-case", payload: { case: testCase, baseUrl } })),
  });
  await batchCompleted(state, batch);
  const ms = performance.now() - started;
  const { counts } = await api("GET", `/api/v1/batches/${batch.id}`);
  return { ms, passed: counts.completed ?? 0 };
}

/** Resolves on the batch's own COMPLETED event (item events carry a runId). */
export function batchCompleted(
  state: Pick<DevState, "apiUrl">,
  batch: { id: string; publicAccessToken: string },
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const socket = new WebSocket(
      `${state.apiUrl.replace("http", "ws")}/api/v1/batches/${batch.id}/live?token=${batch.publicAccessToken}`,
    );
    socket.on("message", (raw) => {
      const event = JSON.parse(String(raw)) as { type: string; data?: { runId?: string; status?: string } };
      if (event.type === "status" && !event.data?.runId && event.data?.status === "COMPLETED") {
        socket.terminate();
        resolve();
      }
    });
    socket.once("error", reject);
  });
}

/** Resident memory of a process and all its descendants (Chromium's processes are the executor's children). */
function treeRssBytes(root: number): number {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc").filter((name) => /^\d+$/.test(name))) {
    try {
      const ppid = Number(/^PPid:\s+(\d+)/m.exec(readFileSync(`/proc/${entry}/status`, "utf8"))?.[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // exited meanwhile
    }
  }
  let total = 0;
  const visit = (pid: number) => {
    try {
      total += Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) * 1024;
    } catch {
      return;
    }
    for (const child of children.get(pid) ?? []) visit(child);
  };
  visit(root);
  return total;
}

/** How late a token timeout resumes its waiting run: RunDO resumption event `at` minus the token's timeoutAt. */
async function timeoutLateness(state: DevState, baseUrl: string): Promise<number[]> {
  const api = strictApiClient(state);
  const lateness: number[] = [];
  for (let sample = 0; sample < TIMEOUT_SAMPLES; sample++) {
    const run = await api("POST", "/api/v1/tasks/browser-case/trigger", {
      payload: {
        baseUrl,
        case: {
          name: "times out",
          steps: [
            { action: "waitForToken", idempotencyKey: `bench-${crypto.randomUUID()}`, timeoutMs: TOKEN_TIMEOUT_MS },
          ],
        },
      },
    });
    const resumed = await new Promise<{ at: string; data: { resumedBy: { timeoutAt: string }[] } }>(
      (resolve, reject) => {
        const socket = new WebSocket(
          `${state.apiUrl.replace("http", "ws")}/api/v1/runs/${run.id}/live?token=${run.publicAccessToken}`,
        );
        socket.on("message", (raw) => {
          const event = JSON.parse(String(raw));
          if (event.type === "status" && event.data?.resumedBy) resolve(event);
        });
        socket.once("close", () => reject(new Error(`${run.id} ended without resuming`))).once("error", reject);
      },
    );
    lateness.push(Date.parse(resumed.at) - Date.parse(resumed.data.resumedBy[0]!.timeoutAt));
  }
  return lateness;
}

export async function benchExecutor(): Promise<{ suite: Row[]; timeouts: Row[]; handoffs: Row[] }> {
  const [stack, site] = await Promise.all([devStack(), startDemoSite()]);
  try {
    const state = await stack.start();
    const authorization = `Bearer ${state.executorSecret}`;
    const health = await fetch(`${state.executorUrl}/healthz`, { headers: { authorization } });
    const executorPid = ((await health.json()) as { pid: number }).pid;
    await stackSuite(state, site.url); // warm: browser launched, isolates and pools up
    let peakRss = 0;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, treeRssBytes(executorPid))), 1_000);
    const stackRuns: number[] = [];
    const bareRuns: number[] = [];
    let passed = 0;
    for (let repetition = 0; repetition < REPETITIONS; repetition++) {
      const measured = await stackSuite(state, site.url);
      stackRuns.push(measured.ms);
      passed = measured.passed;
      bareRuns.push(await bareSuite(site.url));
    }
    clearInterval(sampler);
    const stackMs = percentile(stackRuns, 50);
    const bareMs = percentile(bareRuns, 50);
    const lateness = await timeoutLateness(state, site.url);
    const handoffs = await benchHandoffs(state, site.url);
    return {
      handoffs,
      suite: [
        {
          cases: SUITE_SIZE,
          repetitions: REPETITIONS,
          "flightcheck median ms": Math.round(stackMs),
          "bare Playwright median ms": Math.round(bareMs),
          "ratio (target ≤ 1.3)": stackMs / bareMs,
          "cases passed": `${passed}/${SUITE_SIZE}`,
          "executor peak RSS MiB (Node + Chromium)": Math.round(peakRss / 2 ** 20),
        },
      ],
      timeouts: [
        {
          samples: lateness.length,
          "token timeout ms": TOKEN_TIMEOUT_MS,
          "late by p50 ms": percentile(lateness, 50),
          "late by max ms": Math.max(...lateness),
        },
      ],
    };
  } finally {
    await Promise.all([stack.dispose(), site.close()]);
  }
}
