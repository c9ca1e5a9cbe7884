/**
 * The demo `npm start` runs (DESIGN §9), against the bundled demo site, each suite's progress printed live from
 * its suite run's WebSocket, then a summary and the link to the page a check run's "Details" opens:
 *
 * - the bundled JSON suite (scripts/demo-suite.ts), started by hand through the API; its summary gives each
 *   failure's step, message and screenshot link;
 * - a repository's own Playwright tests (scripts/demo-specs/), started as GitHub would start them: a pull request
 *   on `acme/demo-shop`, announced by a signed webhook, the repository served at its head commit by the local
 *   GitHub stand-in the dev stack runs in demo mode, and the verdict posted back to it as a check run.
 */
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import type WebSocketType from "ws";
import { type DevState, strictApiClient } from "./dev-stack.ts";
import type { FakeGitHub } from "./local-github.ts";
import { checkRunOn, openPullRequest, randomSha } from "./pull-request.ts";
import { packRepository } from "./repository-tarball.ts";
import { demoSuite } from "./demo-suite.ts";

const WebSocket = createRequire(import.meta.url)("ws") as typeof WebSocketType;

const FINAL = new Set(["COMPLETED", "FAILED", "CANCELED", "CRASHED", "SYSTEM_FAILURE", "EXPIRED", "TIMED_OUT"]);
const MARK: Record<string, string> = { COMPLETED: "✓", FAILED: "✗", TIMED_OUT: "⏱", CRASHED: "✗", SYSTEM_FAILURE: "✗" };
const secondsSince = (started: number) => `${((performance.now() - started) / 1000).toFixed(1)} s`;

const DEMO_SPECS = {
  name: "Demo shop specs",
  repository: "acme/demo-shop",
  dir: fileURLToPath(new URL("./demo-specs", import.meta.url)),
};

type Api = Pick<DevState, "apiUrl" | "apiKey">;
type Call = ReturnType<typeof strictApiClient>;

export interface DemoResult {
  batchId: string;
  passed: number;
  failed: number;
}

/** A suite by its name, created on the first start and brought up to date on later ones (a name is unique). */
async function upsertSuite(call: Call, suite: { name: string } & Record<string, unknown>): Promise<string> {
  const existing = ((await call("GET", "/api/v1/suites")).data as { id: string; name: string }[]).find(
    ({ name }) => name === suite.name,
  );
  const saved = existing
    ? await call("PATCH", `/api/v1/suites/${existing.id}`, suite)
    : await call("POST", "/api/v1/suites", suite);
  return saved.id;
}

/**
 * Prints each case of a suite run as it starts and ends, from the run's live socket; resolves once the suite run
 * has ended. Names are looked up in order, so the lines keep the order the events came in.
 */
function followLive(
  apiUrl: string,
  batchId: string,
  token: string,
  nameOf: (runId: string) => Promise<string>,
  say: (line: string) => void,
): Promise<void> {
  let printed = Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    const socket = new WebSocket(`${apiUrl.replace(/^http/, "ws")}/api/v1/batches/${batchId}/live?token=${token}`);
    socket.on("message", (raw) => {
      const event = JSON.parse(String(raw)) as { type: string; data?: { runId?: string; status: string } };
      if (event.type !== "status" || !event.data) return;
      const { runId, status } = event.data;
      if (!runId) {
        // The batch's own final event: every case has ended.
        socket.terminate();
        printed.then(resolve, reject);
      } else if (status === "EXECUTING" || FINAL.has(status)) {
        printed = printed.then(async () =>
          say(`demo:   ${MARK[status] ?? "…"} ${await nameOf(runId)}: ${status.toLowerCase()}`),
        );
      }
    });
    socket.on("error", reject);
  });
}

/** The JSON suite: started through the API, followed live, summed up with each failure's step and screenshot. */
export async function runDemo(api: Api, siteUrl: string, say: (line: string) => void): Promise<DemoResult> {
  const started = performance.now();
  const call = strictApiClient(api);
  const suiteId = await upsertSuite(call, {
    name: demoSuite.name,
    repository: "acme/demo-store",
    baseUrl: siteUrl,
    cases: demoSuite.cases,
  });
  const batch = await call("POST", `/api/v1/suites/${suiteId}/runs`, {});
  const names = new Map<string, string>(
    batch.runs.map((id: string, index: number) => [id, demoSuite.cases[index]!.name]),
  );
  say(`demo: "${demoSuite.name}", ${batch.runs.length} cases against ${siteUrl} (suite run ${batch.id})`);
  say(`demo: follow it in a browser: ${batch.pageUrl}`);
  await followLive(api.apiUrl, batch.id, batch.publicAccessToken, async (id) => names.get(id) ?? id, say);

  const { runs } = await call("GET", `/api/v1/batches/${batch.id}`);
  say("demo: summary");
  let passed = 0;
  for (const summary of runs as { id: string; status: string }[]) {
    const run = await call("GET", `/api/v1/runs/${summary.id}`);
    const steps = run.steps.filter((step: { attempt: number }) => step.attempt === run.attempt);
    const ms = steps.reduce((total: number, step: { durationMs: number | null }) => total + (step.durationMs ?? 0), 0);
    if (run.status === "COMPLETED") passed++;
    say(`demo:   ${MARK[run.status] ?? "?"} ${names.get(run.id)} — ${run.status}, ${steps.length} steps, ${ms} ms`);
    if (run.status !== "COMPLETED" && run.error) {
      const lines = String(run.error.message)
        .split("\n")
        .filter((line) => line.trim());
      say(`demo:       ${lines.slice(0, 5).join("\n                  ")}`);
      if (run.error.screenshotUrl)
        say(`demo:       screenshot: ${api.apiUrl}${run.error.screenshotUrl} (with your API key)`);
    }
  }
  const failed = runs.length - passed;
  const onPurpose = failed ? " (one fails on purpose: see above)" : "";
  say(`demo: ${passed} passed, ${failed} failed in ${secondsSince(started)}${onPurpose}`);
  say(`demo: the suite run's page: ${batch.pageUrl}`);
  return { batchId: batch.id, passed, failed };
}

interface SpecRun {
  id: string;
  task: string;
  status: string;
  payload: { name?: string };
  output?: Record<string, any> | null;
  error?: { message: string } | null;
}

const specName = (run: SpecRun) =>
  run.task === "spec-suite" ? "setup: download, install, start Playwright" : (run.payload.name ?? run.id);

/**
 * The repository suite: a pull request on `acme/demo-shop` whose head commit is scripts/demo-specs, followed
 * live from the check run's details link (its page token opens the live socket too), then summed up with each
 * test's verdict and where a failure is, and the check run GitHub would show.
 */
export async function runSpecDemo(
  dev: Pick<DevState, "apiUrl" | "apiKey" | "webhookSecret">,
  github: FakeGitHub,
  siteUrl: string,
  say: (line: string) => void,
): Promise<DemoResult> {
  const started = performance.now();
  const call = strictApiClient(dev);
  await upsertSuite(call, {
    name: DEMO_SPECS.name,
    repository: DEMO_SPECS.repository,
    baseUrl: siteUrl,
    source: { kind: "repository" },
  });
  const sha = randomSha();
  const top = `${DEMO_SPECS.repository.replace("/", "-")}-${sha.slice(0, 7)}/`;
  github.serveTarball(DEMO_SPECS.repository, sha, await packRepository(DEMO_SPECS.dir, top));
  const status = await openPullRequest(dev, DEMO_SPECS.repository, sha);
  if (status !== 202) throw new Error(`the pull_request webhook was answered ${status}`);
  const checkRun = await checkRunOn(github, sha, { completed: false });
  const batchId = String(checkRun.external_id);
  const pageUrl = String(checkRun.details_url);
  say(
    `demo: "${DEMO_SPECS.name}", the Playwright tests in ${DEMO_SPECS.repository} ` +
      `at pull request #3 (${sha.slice(0, 7)})`,
  );
  say(`demo: follow it in a browser: ${pageUrl}`);
  const names = new Map<string, Promise<string>>();
  const nameOf = (id: string) => {
    if (!names.has(id)) names.set(id, call("GET", `/api/v1/runs/${id}`).then(specName));
    return names.get(id)!;
  };
  await followLive(dev.apiUrl, batchId, new URL(pageUrl).searchParams.get("token")!, nameOf, say);

  const { runs } = (await call("GET", `/api/v1/batches/${batchId}`)) as { runs: SpecRun[] };
  say("demo: summary");
  let passed = 0;
  let failed = 0;
  let flaky = 0;
  for (const run of runs) {
    const output = run.output ?? {};
    // Counted as the check run counts: the tests, and the setup only when it failed.
    if (run.status !== "COMPLETED") failed++;
    else if (run.task !== "spec-suite") passed++;
    if (output.flaky) flaky++;
    const { playwright, install } = output;
    const detail =
      run.task === "spec-suite"
        ? `Playwright ${playwright?.version} (the ${playwright?.from}'s), install: ${install?.cache}`
        : `${output.flaky ? "flaky: failed, then passed on retry, " : ""}${output.durationMs ?? "?"} ms`;
    say(`demo:   ${MARK[run.status] ?? "?"} ${specName(run)} — ${run.status}, ${detail}`);
    if (run.status !== "COMPLETED" && run.error) {
      const where = output.location ? ` (${output.location.file}:${output.location.line})` : "";
      say(`demo:       ${String(run.error.message).split("\n")[0]}${where}`);
    }
  }
  const flakyOnPurpose = flaky ? ` (${flaky} flaky on purpose)` : "";
  say(`demo: ${passed} passed${flakyOnPurpose}, ${failed} failed in ${secondsSince(started)}`);
  const completed = await checkRunOn(github, sha, { completed: true });
  say(`demo: check run "${completed.name}": ${completed.conclusion}, ${completed.output?.title}`);
  say(`demo: the suite run's page: ${pageUrl}`);
  return { batchId, passed, failed };
}
