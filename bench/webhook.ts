/**
 * The GitHub webhook route on the local stack: signed pull_request deliveries (each records its delivery
 * and answers; suite runs are recorded after the answer) for a repository without suites, and for one with
 * a suite whose cases then run on the same two cores; beside a signed ping (no database) and the health
 * check. Target: p99 ≤ 50 ms.
 */
import { sign } from "@octokit/webhooks-methods";
import { devStack } from "../scripts/dev-stack.ts";
import { mean, percentile, timed } from "./stats.ts";

const DELIVERIES = Number(process.env.BENCH_DELIVERIES ?? 200);

export async function benchWebhook(): Promise<Record<string, string | number>[]> {
  const stack = await devStack();
  try {
    const state = await stack.start();
    const suite = await fetch(`${state.apiUrl}/api/v1/suites`, {
      method: "POST",
      headers: { authorization: `Bearer ${state.apiKey}`, "content-type": "application/json" },
      body: JSON.stringify({
        name: "bench",
        repository: "acme/bench",
        baseUrl: "http://127.0.0.1:9",
        cases: [{ name: "home", steps: [{ action: "goto", url: "/" }] }],
      }),
    });
    if (suite.status !== 201) throw new Error(`suite: HTTP ${suite.status} ${await suite.text()}`);

    const deliver = async (event: string, payload: unknown) => {
      const body = JSON.stringify(payload);
      const headers = {
        "content-type": "application/json",
        "x-github-event": event,
        "x-github-delivery": crypto.randomUUID(),
        "x-hub-signature-256": await sign(state.webhookSecret, body),
      };
      return timed(async () => {
        const response = await fetch(`${state.apiUrl}/webhooks/github`, { method: "POST", headers, body });
        if (response.status >= 300) throw new Error(`${event}: HTTP ${response.status} ${await response.text()}`);
        await response.arrayBuffer();
      });
    };
    const pullRequest = (n: number) => ({
      action: "synchronize",
      repository: { full_name: "acme/bench" },
      pull_request: { number: n, head: { sha: n.toString(16).padStart(40, "0"), ref: "feature" } },
    });

    const rows: Record<string, string | number>[] = [];
    const measure = async (name: string, once: (i: number) => Promise<number>) => {
      for (let i = 0; i < 10; i++) await once(i); // warm
      const samples: number[] = [];
      for (let i = 0; i < DELIVERIES; i++) samples.push(await once(i));
      rows.push({ request: name, samples: samples.length, "p50 ms": percentile(samples, 50), "p99 ms (target ≤ 50)": percentile(samples, 99), "mean ms": mean(samples) });
    };
    await measure("ping (signed, no database)", () => deliver("ping", { zen: "Speak like a human." }));
    await measure("GET /healthz (both databases)", () => timed(async () => (await fetch(`${state.apiUrl}/healthz`)).arrayBuffer()));
    await measure("pull_request, repository without suites", (i) =>
      deliver("pull_request", { ...pullRequest(i + 1), repository: { full_name: "acme/elsewhere" } }),
    );
    // Last: the suite runs it records keep the executor's browser busy on the same cores.
    await measure("pull_request → suite run (its cases run meanwhile)", (i) => deliver("pull_request", pullRequest(i + 1)));
    return rows;
  } finally {
    await stack.dispose();
  }
}
