/**
 * Requests no client should send, across every route: malformed JSON, wrong types, huge strings, odd
 * unicode, unclassifiable and foreign ids, durations and dates past the cap. Seeded, so a failure replays the
 * same way.
 */
export interface FuzzRequest {
  method: string;
  path: string;
  body?: string;
  headers?: Record<string, string>;
  /** false: no Authorization header. */
  auth?: boolean;
}

function prng(seed: number) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const STRINGS = [
  "",
  " ",
  "a".repeat(200_000),
  "\u0000",
  "nul\u0000inside",
  "\ud800",
  "lone \udfff surrogate",
  "🙂".repeat(2_000),
  "\u202eevil",
  "../../etc/passwd",
  "%00%2e%2e",
  "<script>alert(1)</script>",
  "'; drop table runs; --",
  "1h",
  "-5s",
  "99999999999d",
  "2026-13-45T99:99:99Z",
  "http://127.0.0.1:9/",
  "javascript:alert(1)",
];
/** Durations and dates past the 365-day cap, or past what a Date can hold. */
const FAR_AWAY = [
  "99999999d",
  "999999999d",
  "366d",
  "8760h1",
  "9999-12-31T00:00:00Z",
  "+275760-09-13T00:00:00.000Z",
  "2026-02-30T00:00:00Z",
];
const NUMBERS = [0, -1, 1.5, 2 ** 53 + 1, 1e308, -1e308, 42, 8.64e15 + 1];
const KEYS = [
  "payload",
  "options",
  "items",
  "task",
  "url",
  "case",
  "steps",
  "action",
  "name",
  "timeout",
  "data",
  "idempotencyKey",
  "delay",
  "ttl",
  "tags",
  "metadata",
  "maxAttempts",
  "parentRunId",
  "repository",
  "baseUrl",
  "cases",
  "triggers",
  "sha",
  "attempt",
  "events",
  "status",
  "tokens",
  "until",
  "__proto__",
  "constructor",
];
const LIST_QUERIES = [
  "status=NOPE",
  "limit=-1",
  "limit=1e9",
  "cursor=%ff",
  `tag=${"t".repeat(500)}`,
  "batchId=run_x",
  "status=",
  "cursor=eyJ4Ijox",
];
const EXECUTOR_CALLS = ["claim", "heartbeat", "events", "wait", "tokens", "complete", "release", "artifacts/x.png"];
const MALFORMED = [
  "{",
  "[1,",
  "nul",
  '"unterminated',
  '{"a":}',
  "\u0000",
  '{"a":1}{"b":2}',
  "\ud800",
  "[".repeat(10_000),
];

export function fuzzRequests(
  count: number,
  { foreignRunId, seed = 20261122 }: { foreignRunId: string; seed?: number },
): FuzzRequest[] {
  const random = prng(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const ids = [
    "",
    "run_",
    "run_xyz",
    `run_${"c".repeat(25)}`,
    `run_${"A".repeat(27)}`,
    foreignRunId,
    "batch_c0000000000000000000000000",
    `waitpoint_${"c".repeat(25)}`,
    `suite_c${"0".repeat(24)}`,
    "%2e%2e",
    encodeURIComponent("🙂"),
    "x".repeat(5_000),
  ];

  const value = (depth = 0): unknown => {
    const roll = random();
    if (depth > 4 || roll < 0.3) return pick(STRINGS);
    if (roll < 0.45) return pick(NUMBERS);
    if (roll < 0.55) return pick([true, false, null]);
    if (roll < 0.75) return Array.from({ length: Math.floor(random() * 4) }, () => value(depth + 1));
    const object: Record<string, unknown> = {};
    for (let i = Math.floor(random() * 5); i > 0; i--) object[pick(KEYS)] = value(depth + 1);
    return object;
  };
  const farAway = [...FAR_AWAY, ...NUMBERS];
  const deep = () => {
    let nested: unknown = 1;
    for (let i = 0; i < 200; i++) nested = { a: nested };
    return nested;
  };
  const body = (): string => {
    const roll = random();
    if (roll < 0.2) return pick(MALFORMED);
    if (roll < 0.25) return JSON.stringify({ payload: deep() });
    return JSON.stringify(value());
  };

  const routes: (() => FuzzRequest)[] = [
    () => ({
      method: "POST",
      path: `/api/v1/tasks/${pick(["http-check", "browser-case", "nope", "%00", "a".repeat(300)])}/trigger`,
      body: body(),
    }),
    () => ({ method: "POST", path: "/api/v1/tasks/batch", body: body() }),
    () => ({
      method: "GET",
      path: `/api/v1/runs?${pick(LIST_QUERIES)}`,
    }),
    () => ({
      method: pick(["GET", "POST", "DELETE"]),
      path: `/api/v1/runs/${pick(ids)}${pick(["", "/cancel", "/replay", "/artifacts/1/x.png", "/artifacts/-1/..%2f"])}`,
      body: body(),
    }),
    () => ({ method: "GET", path: `/api/v1/batches/${pick(ids)}` }),
    () => ({ method: "POST", path: "/api/v1/waitpoints/tokens", body: body() }),
    () => ({ method: "POST", path: "/api/v1/waitpoints/tokens", body: JSON.stringify({ timeout: pick(farAway) }) }),
    () => {
      const options = { [pick(["delay", "ttl", "idempotencyKeyTTL"])]: pick(farAway) };
      const body = JSON.stringify({ payload: { url: "http://127.0.0.1:9/" }, options });
      return { method: "POST", path: "/api/v1/tasks/http-check/trigger", body };
    },
    () => ({
      method: pick(["GET", "POST"]),
      path: `/api/v1/waitpoints/tokens/${pick(ids)}${pick(["", "/complete", "/callback/abc", "/callback/"])}`,
      body: body(),
      auth: random() < 0.8,
    }),
    () => ({ method: pick(["POST", "GET"]), path: "/api/v1/suites", body: body() }),
    () => ({
      method: pick(["GET", "PATCH", "DELETE", "POST"]),
      path: `/api/v1/suites/${pick(ids)}${pick(["", "/runs"])}`,
      body: body(),
    }),
    () => ({
      method: "GET",
      path: `/api/v1/${pick(["runs", "batches"])}/${pick(ids)}/live?${pick(["since=-1", "token=x", "since=abc", ""])}`,
    }),
    () => ({
      method: pick(["POST", "PUT"]),
      path: `/internal/runs/${pick(ids)}/${pick(EXECUTOR_CALLS)}`,
      body: body(),
      headers: { authorization: pick(["Bearer x.y", "Bearer ", "Basic abc", `Bearer ${"a".repeat(3_000)}`]) },
    }),
    () => ({
      method: "POST",
      path: "/webhooks/github",
      body: body(),
      auth: false,
      headers: {
        "x-github-event": pick(["pull_request", "push", "", "a b"]),
        "x-github-delivery": pick(["d1", "", "x".repeat(300)]),
        "x-hub-signature-256": pick(["sha256=00", "zz", ""]),
      },
    }),
    () => ({ method: "GET", path: `/runs/${pick(ids)}?token=${pick(["", "x", "a.b"])}`, auth: false }),
    () => ({
      method: pick(["GET", "POST"]),
      path: pick(["/", "/healthz", "/api/v1", "/nope", "/%ff"]),
      body: body(),
      auth: random() < 0.5,
    }),
  ];
  return Array.from({ length: count }, () => {
    const request = pick(routes)();
    if (request.method === "GET" || request.method === "DELETE") delete request.body;
    return request;
  });
}
