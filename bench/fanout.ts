/**
 * WebSocket fan-out on the local stack: 500 subscribers watch one run; the time from the event being written
 * in its RunDO (the event's `at`) to its arrival at each subscriber, over several rounds; each figure is the
 * median of the rounds'. Target: p99 ≤ 100 ms.
 */
import WebSocket from "ws";
import { devStack } from "../scripts/dev-stack.ts";
import { mean, medianOfRounds, percentile } from "./stats.ts";

const SUBSCRIBERS = Number(process.env.BENCH_SUBSCRIBERS ?? 500);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const CONNECT_WAVE = 50;

/** Connects, and resolves `canceledAfter` with how long the CANCELED event took to arrive (undefined if never). */
async function subscribe(url: string): Promise<{ canceledAfter: Promise<number | undefined> }> {
  const socket = new WebSocket(url);
  const canceledAfter = new Promise<number | undefined>((resolve) => {
    socket.on("message", (data) => {
      const event = JSON.parse(String(data)) as { type: string; data?: { status?: string }; at?: string };
      if (event.type === "status" && event.data?.status === "CANCELED") resolve(Date.now() - Date.parse(event.at!));
    });
    socket.once("close", () => resolve(undefined));
  });
  await new Promise((resolve, reject) => socket.once("open", resolve).on("error", reject));
  return { canceledAfter };
}

export async function benchFanout(): Promise<Record<string, string | number>[]> {
  const stack = await devStack();
  try {
    const state = await stack.start();
    const api = (path: string, body?: unknown) =>
      fetch(`${state.apiUrl}${path}`, {
        method: "POST",
        headers: { authorization: `Bearer ${state.apiKey}`, "content-type": "application/json" },
        body: JSON.stringify(body ?? {}),
      }).then((r) => r.json() as Promise<{ id: string; publicAccessToken: string }>);

    const rounds: number[][] = [];
    let missing = 0;
    for (let round = 0; round < ROUNDS; round++) {
      // A delayed run stays put until it is canceled: its CANCELED event is the one measured.
      const run = await api("/api/v1/tasks/http-check/trigger", {
        payload: { url: `${state.executorUrl}/healthz` },
        options: { delay: "1h" },
      });
      const wsUrl = `${state.apiUrl.replace("http", "ws")}/api/v1/runs/${run.id}/live?token=${run.publicAccessToken}`;
      const subscribers: Awaited<ReturnType<typeof subscribe>>[] = [];
      // Connect in waves, as browsers arrive: 500 upgrades in the same millisecond would each open their own
      // database connections at once.
      while (subscribers.length < SUBSCRIBERS) {
        subscribers.push(
          ...(await Promise.all(
            Array.from({ length: Math.min(CONNECT_WAVE, SUBSCRIBERS - subscribers.length) }, () => subscribe(wsUrl)),
          )),
        );
      }
      await api(`/api/v1/runs/${run.id}/cancel`);
      const arrivals = subscribers.map((subscriber) => subscriber.canceledAfter);
      const latencies: number[] = [];
      for (const latency of await Promise.all(arrivals)) latency === undefined ? missing++ : latencies.push(latency);
      rounds.push(latencies);
    }
    return [
      {
        subscribers: SUBSCRIBERS,
        rounds: ROUNDS,
        "p50 ms": medianOfRounds(rounds, (latencies) => percentile(latencies, 50)),
        "p99 ms (target ≤ 100)": medianOfRounds(rounds, (latencies) => percentile(latencies, 99)),
        "mean ms": medianOfRounds(rounds, mean),
        "missed deliveries": missing,
      },
    ];
  } finally {
    await stack.dispose();
  }
}
