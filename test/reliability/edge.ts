/**
 * Reliability scenarios at the API's edge (issue #14 item 7): floods of bad keys are refused without opening a
 * database session, and a flood on one key meets its rate limit. Each returns what was tried and what held.
 */
import { mintApiKey } from "../../schema/api-keys.ts";

export interface EdgeContext {
  apiUrl: string;
  /** ws:// URL of the stack's WebSocket→TCP proxy, which counts the sessions clients open. */
  wsProxyUrl: string;
  /** A fresh tenant's secret key. */
  newKey: () => Promise<string>;
  /** Runs `work` over `count` indexes with at most `limit` in flight. */
  bounded: <R>(count: number, limit: number, work: (index: number) => Promise<R>) => Promise<R[]>;
}

export interface EdgeOutcome {
  tried: string;
  held: boolean;
  detail: string;
}

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

const proxySessions = async (wsProxyUrl: string) =>
  ((await (await fetch(`${wsProxyUrl.replace(/^ws/, "http")}/sessions`)).json()) as { sessions: number }).sessions;

const tally = (statuses: number[]) => {
  const byStatus = new Map<number, number>();
  for (const status of statuses) byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
  return [...byStatus]
    .sort(([a], [b]) => a - b)
    .map(([status, n]) => `${status}×${n}`)
    .join(" ");
};

/**
 * Rounds of requests with no key, malformed keys and keys with a wrong checksum, from one address. The cron
 * sweep may open a few sessions meanwhile, so a round that opened none proves the point; before the fix
 * every request with a well-formed key opened one or two.
 */
export async function badKeyFlood({ apiUrl, wsProxyUrl, bounded }: EdgeContext): Promise<EdgeOutcome> {
  const genuine = await mintApiKey("dev");
  const corrupted = `${genuine.slice(0, -8)}00000000`;
  const headers: Record<string, string>[] = [
    {},
    { authorization: "Bearer fc_dev_short" },
    { authorization: `Bearer ${corrupted}` },
    { authorization: "Basic eDp5" },
  ];
  const from = { "cf-connecting-ip": "203.0.113.14" };
  const opened: number[] = [];
  const statuses: number[] = [];
  let retryAfterMissing = 0;
  for (let round = 0; round < 3; round++) {
    const before = await proxySessions(wsProxyUrl);
    statuses.push(
      ...(await bounded(800, 50, async (index) => {
        const response = await fetch(`${apiUrl}/api/v1/runs`, { headers: { ...from, ...headers[index % 4] } });
        await response.arrayBuffer();
        if (response.status === 429 && !Number(response.headers.get("retry-after"))) retryAfterMissing++;
        return response.status;
      })),
    );
    opened.push((await proxySessions(wsProxyUrl)) - before);
  }
  const refused = statuses.every((status) => status === 401 || status === 429);
  return {
    tried: "3 rounds of 800 requests without a key, with malformed and corrupted keys, 50 in flight",
    held:
      refused &&
      statuses.includes(429) &&
      retryAfterMissing === 0 &&
      Math.min(...opened) === 0 &&
      Math.max(...opened) <= 5,
    detail: `statuses ${tally(statuses)}; database sessions opened per round: ${opened.join(", ")}`,
  };
}

/** One key sends cheap requests as fast as it can until it is throttled; another key is served meanwhile. */
export async function perKeyFlood({ apiUrl, newKey, bounded }: EdgeContext): Promise<EdgeOutcome> {
  const [flooding, bystander] = await Promise.all([newKey(), newKey()]);
  const MAX_REQUESTS = 6_000;
  let throttled: Response | undefined;
  let sent = 0;
  await bounded(MAX_REQUESTS, 50, async () => {
    if (throttled) return;
    sent++;
    // An unclassifiable id: answered 400 once the key is authenticated, without a query.
    const response = await fetch(`${apiUrl}/api/v1/runs/run_flood`, { headers: bearer(flooding) });
    await response.arrayBuffer();
    if (response.status === 429) throttled ??= response;
  });
  const bystanderStatus = (await fetch(`${apiUrl}/api/v1/runs`, { headers: bearer(bystander) })).status;
  const retryAfter = Number(throttled?.headers.get("retry-after"));
  return {
    tried: `up to ${MAX_REQUESTS.toLocaleString("en")} requests on one key, 50 in flight; another key meanwhile`,
    held:
      throttled?.headers.get("content-type") === "application/problem+json" &&
      retryAfter > 0 &&
      bystanderStatus === 200,
    detail: throttled
      ? `429 after ${sent} requests, Retry-After ${retryAfter} s; the other key got ${bystanderStatus}`
      : `never throttled in ${sent} requests`,
  };
}
