/**
 * The demo `npm start` runs (DESIGN §9): the bundled demo suite, started by hand as a suite run against the
 * bundled demo site, its progress printed live from the suite run's WebSocket, then a summary with each
 * failure's step, message and screenshot link, and the link to the page a check run's "Details" opens.
 */
import { createRequire } from "node:module";
import type WebSocketType from "ws";
import { demoSuite } from "./demo-suite.ts";

const WebSocket = createRequire(import.meta.url)("ws") as typeof WebSocketType;

const FINAL = new Set(["COMPLETED", "FAILED", "CANCELED", "CRASHED", "SYSTEM_FAILURE", "EXPIRED", "TIMED_OUT"]);
const MARK: Record<string, string> = { COMPLETED: "✓", FAILED: "✗", TIMED_OUT: "⏱", CRASHED: "✗", SYSTEM_FAILURE: "✗" };

interface Api {
  apiUrl: string;
  apiKey: string;
}

export interface DemoResult {
  batchId: string;
  passed: number;
  failed: number;
}

export async function runDemo(
  { apiUrl, apiKey }: Api,
  siteUrl: string,
  say: (line: string) => void,
): Promise<DemoResult> {
  const call = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${apiUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = (await response.json()) as any;
    if (!response.ok) throw new Error(`${method} ${path}: HTTP ${response.status} ${json.detail ?? ""}`);
    return json;
  };

  // Created on the first start, brought up to date on later ones (a suite's name is unique).
  const suite = { name: demoSuite.name, repository: "acme/demo-store", baseUrl: siteUrl, cases: demoSuite.cases };
  const existing = ((await call("GET", "/api/v1/suites")).data as { id: string; name: string }[]).find(
    ({ name }) => name === suite.name,
  );
  const { id: suiteId } = existing
    ? await call("PATCH", `/api/v1/suites/${existing.id}`, suite)
    : await call("POST", "/api/v1/suites", suite);
  const batch = await call("POST", `/api/v1/suites/${suiteId}/runs`, {});
  const names = new Map<string, string>(
    batch.runs.map((id: string, index: number) => [id, demoSuite.cases[index]!.name]),
  );
  say(`demo: "${demoSuite.name}", ${batch.runs.length} cases against ${siteUrl} (suite run ${batch.id})`);
  say(`demo: follow it in a browser: ${batch.pageUrl}`);

  await new Promise<void>((resolve, reject) => {
    const socket = new WebSocket(
      `${apiUrl.replace(/^http/, "ws")}/api/v1/batches/${batch.id}/live?token=${batch.publicAccessToken}`,
    );
    socket.on("message", (raw) => {
      const event = JSON.parse(String(raw)) as { type: string; data?: { runId?: string; status: string } };
      if (event.type !== "status" || !event.data) return;
      const { runId, status } = event.data;
      if (!runId) {
        // The batch's own final event: every case has ended.
        socket.terminate();
        resolve();
      } else if (status === "EXECUTING" || FINAL.has(status)) {
        say(`demo:   ${MARK[status] ?? "…"} ${names.get(runId)}: ${status.toLowerCase()}`);
      }
    });
    socket.on("error", reject);
  });

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
        say(`demo:       screenshot: ${apiUrl}${run.error.screenshotUrl} (with your API key)`);
    }
  }
  const failed = runs.length - passed;
  say(`demo: ${passed} passed, ${failed} failed${failed ? " (one fails on purpose: see above)" : ""}`);
  say(`demo: the suite run's page: ${batch.pageUrl}`);
  return { batchId: batch.id, passed, failed };
}
