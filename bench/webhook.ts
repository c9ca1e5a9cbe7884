/**
 * The GitHub webhook route on the local stack: signed pull_request deliveries (each records its delivery
 * and answers; suite runs are recorded after the answer) for a repository without suites, for one whose
 * suite runs are recorded but wait (its organisation is at a limit of 0), and for one whose suite runs'
 * cases then run on the same two cores; beside a signed ping (no database) and the health check.
 * Target: p99 ≤ 50 ms.
 */
import { neonConfig } from "@neondatabase/serverless";
import { sign } from "@octokit/webhooks-methods";
import ws from "ws";
import { devStack } from "../scripts/dev-stack.ts";
import { DEV_INSTALLATION, freshInstallation, seedTenant } from "../scripts/seed.ts";
import { openPool } from "../worker/store/database.ts";
import { mean, medianOfRounds, percentile, timed } from "./stats.ts";

neonConfig.webSocketConstructor = ws;

const DELIVERIES = Number(process.env.BENCH_DELIVERIES ?? 300);
const ROUNDS = 3;

export async function benchWebhook(): Promise<Record<string, string | number>[]> {
  const stack = await devStack();
  try {
    const state = await stack.start();
    const admin = openPool(state.databases.legacy, { wsProxy: state.wsProxyUrl });
    const waiting = await seedTenant(admin, {
      slug: "bench-waiting",
      concurrencyLimit: 0,
      installation: freshInstallation(),
    });
    const waitingRepository = `${waiting.installation!.account}/waiting`;
    await admin.end();
    const createSuite = async (apiKey: string, repository: string) => {
      const suite = await fetch(`${state.apiUrl}/api/v1/suites`, {
        method: "POST",
        headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
        body: JSON.stringify({
          name: "bench",
          repository,
          baseUrl: "http://127.0.0.1:9",
          cases: [{ name: "home", steps: [{ action: "goto", url: "/" }] }],
        }),
      });
      if (suite.status !== 201) throw new Error(`suite: HTTP ${suite.status} ${await suite.text()}`);
    };
    await createSuite(state.apiKey, "acme/bench");
    await createSuite(waiting.apiKey, waitingRepository);

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
      installation: { id: DEV_INSTALLATION.id },
      pull_request: { number: n, head: { sha: n.toString(16).padStart(40, "0"), ref: "feature" } },
    });

    // Three rounds, the requests interleaved within each, so a slow moment of the machine hits them alike;
    // each figure is the median of the rounds'.
    const requests: [string, (i: number) => Promise<number>][] = [
      ["ping (signed, no database)", () => deliver("ping", { zen: "Speak like a human." })],
      [
        "GET /healthz (both databases)",
        () => timed(async () => (await fetch(`${state.apiUrl}/healthz`)).arrayBuffer()),
      ],
      [
        "pull_request, repository without suites",
        (i) => deliver("pull_request", { ...pullRequest(i + 1), repository: { full_name: "acme/elsewhere" } }),
      ],
      [
        "pull_request → suite run recorded, waiting for a slot",
        (i) =>
          deliver("pull_request", {
            ...pullRequest(i + 1),
            repository: { full_name: waitingRepository },
            installation: { id: waiting.installation!.id },
          }),
      ],
    ];
    const rounds = new Map<string, number[][]>(requests.map(([name]) => [name, []]));
    // Warm, on commits the measured deliveries never use: a signed body seen before is answered as a duplicate.
    for (const [, once] of requests) for (let i = 0; i < 10; i++) await once(2 * DELIVERIES + i);
    let delivery = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const samples = new Map<string, number[]>(requests.map(([name]) => [name, []]));
      for (let i = 0; i < DELIVERIES / ROUNDS; i++, delivery++) {
        for (const [name, once] of requests) samples.get(name)!.push(await once(delivery));
      }
      for (const [name, taken] of samples) rounds.get(name)!.push(taken);
    }
    // Last: the suite runs it records keep the executor's browser busy on the same cores.
    const busy: number[][] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const taken: number[] = [];
      for (let i = 0; i < DELIVERIES / ROUNDS; i++, delivery++)
        taken.push(await deliver("pull_request", pullRequest(delivery + 1)));
      busy.push(taken);
    }
    rounds.set("pull_request → suite run (its cases run meanwhile)", busy);

    const rows = [...rounds].map(([request, perRound]) => ({
      request,
      samples: perRound.flat().length,
      "p50 ms": medianOfRounds(perRound, (samples) => percentile(samples, 50)),
      "p99 ms (target ≤ 50)": medianOfRounds(perRound, (samples) => percentile(samples, 99)),
      "mean ms": medianOfRounds(perRound, mean),
    }));
    return rows;
  } finally {
    await stack.dispose();
  }
}
