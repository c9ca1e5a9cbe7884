/**
 * Every route fed what clients get wrong: no key, malformed JSON, wrong types, huge bodies, unknown ids,
 * unclassifiable ids and another environment's ids. Each gets its documented 4xx as problem+json; none a 5xx.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { mintCuid, mintKsuid } from "../../worker/store/ids.ts";
import { type Client, client, createTenant, httpCheck, siteUrl } from "./support.ts";

let api: Client;
let stranger: Client;
let runId: string;
let batchId: string;
let finishedRunId: string;

beforeAll(async () => {
  api = client((await createTenant()).apiKey);
  stranger = client((await createTenant()).apiKey);
  runId = (
    await api.json("POST", "/api/v1/tasks/http-check/trigger", {
      ...httpCheck(`${siteUrl}/ok`),
      options: { delay: "1h" },
    })
  ).body.id;
  batchId = (
    await api.json("POST", "/api/v1/tasks/batch", { items: [{ task: "http-check", ...httpCheck(`${siteUrl}/ok`) }] })
  ).body.id;
  finishedRunId = (
    await api.json("POST", "/api/v1/tasks/http-check/trigger", {
      ...httpCheck(`${siteUrl}/ok`),
      options: { delay: "1h" },
    })
  ).body.id;
  expect((await api.json("POST", `/api/v1/runs/${finishedRunId}/cancel`)).status).toBe(200);
});

async function expectProblem(response: Promise<Response>, status: number) {
  const res = await response;
  const body = await res.text();
  expect(res.status, body).toBe(status);
  expect(res.headers.get("content-type")).toBe("application/problem+json");
  expect(JSON.parse(body)).toMatchObject({ status, title: expect.any(String) });
}

const unknownRun = `run_${mintCuid()}`;
const unknownBatch = `batch_${mintKsuid()}`;
const huge = (bytes: number) => JSON.stringify({ payload: { url: `${siteUrl}/ok`, blob: "x".repeat(bytes) } });

describe("authentication", () => {
  const routes: [string, string][] = [
    ["POST", "/api/v1/tasks/http-check/trigger"],
    ["POST", "/api/v1/tasks/batch"],
    ["GET", "/api/v1/runs"],
    ["GET", `/api/v1/runs/${unknownRun}`],
    ["POST", `/api/v1/runs/${unknownRun}/cancel`],
    ["POST", `/api/v1/runs/${unknownRun}/replay`],
    ["GET", `/api/v1/batches/${unknownBatch}`],
  ];
  it.each(routes)("%s %s needs a valid secret key", async (method, path) => {
    await expectProblem(client("").request(method, path, {}), 401);
    await expectProblem(client("fc_dev_not-a-real-key-but-long-enough").request(method, path, {}), 401);
    await expectProblem(client(`fc_dev_${"0".repeat(48)}`).request(method, path, {}), 401);
    await expectProblem(client("x").request(method, path, {}, { authorization: "Basic Zm9vOmJhcg==" }), 401);
  });
});

describe("POST /api/v1/tasks/:task/trigger", () => {
  const trigger = (body: unknown, task = "http-check") => api.request("POST", `/api/v1/tasks/${task}/trigger`, body);
  it("refuses malformed JSON with 400", () => expectProblem(trigger('{"payload": {'), 400));
  it("refuses wrong types with 422", async () => {
    await expectProblem(trigger({ payload: 42 }), 422);
    await expectProblem(trigger({ payload: { url: "not a url" } }), 422);
    await expectProblem(trigger({ ...httpCheck(`${siteUrl}/ok`), options: { tags: "smoke" } }), 422);
    await expectProblem(trigger({ ...httpCheck(`${siteUrl}/ok`), options: { delay: "soon" } }), 422);
    await expectProblem(trigger({ ...httpCheck(`${siteUrl}/ok`), options: { maxAttempts: 0 } }), 422);
    await expectProblem(trigger({ ...httpCheck(`${siteUrl}/ok`), surprise: true }), 422);
    await expectProblem(trigger([1, 2, 3]), 422);
  });
  it("refuses a body over 1 MiB with 413", () => expectProblem(trigger(huge(1_100_000)), 413));
  it("answers 404 for a task that does not exist", () => expectProblem(trigger({}, "mine-bitcoin"), 404));
  it("answers 400 for an unclassifiable parentRunId and 404 for an unknown or foreign one", async () => {
    await expectProblem(trigger({ ...httpCheck(`${siteUrl}/ok`), options: { parentRunId: "run_nope" } }), 400);
    await expectProblem(trigger({ ...httpCheck(`${siteUrl}/ok`), options: { parentRunId: unknownRun } }), 404);
    await expectProblem(
      stranger.request("POST", "/api/v1/tasks/http-check/trigger", {
        ...httpCheck(`${siteUrl}/ok`),
        options: { parentRunId: runId },
      }),
      404,
    );
  });
  it("takes odd unicode, and refuses what Postgres cannot store with 422 instead of a 5xx", async () => {
    const delayed = { delay: "1h" };
    const ok = await trigger({
      ...httpCheck(`${siteUrl}/ok`),
      options: { ...delayed, tags: ["🚀", "ünï"], metadata: { "\u202e": "ok" } },
    });
    expect(ok.status).toBe(201);
    await expectProblem(trigger({ ...httpCheck(`${siteUrl}/ok`), options: { ...delayed, tags: ["\u0000x"] } }), 422);
    await expectProblem(
      trigger({ ...httpCheck(`${siteUrl}/ok`), options: { ...delayed, metadata: { a: ["\ud800"] } } }),
      422,
    );
    await expectProblem(
      trigger({ ...httpCheck(`${siteUrl}/ok`), options: { ...delayed, idempotencyKey: "k\u0000" } }),
      422,
    );
    await expectProblem(trigger({ payload: { url: `${siteUrl}/ok`, "\u0000": 1 } }), 422);
    await expectProblem(api.request("GET", "/api/v1/runs?tag=%00"), 422);
    await expectProblem(trigger(`{"payload":${"[".repeat(100)}1${"]".repeat(100)}}`), 422);
    const deepest = await trigger(`{"payload":${"[".repeat(100_000)}1${"]".repeat(100_000)}}`);
    expect(deepest.status).toBeGreaterThanOrEqual(400);
    expect(deepest.status).toBeLessThan(500);
  });
});

describe("POST /api/v1/tasks/batch", () => {
  const batch = (body: unknown) => api.request("POST", "/api/v1/tasks/batch", body);
  const item = { task: "http-check", ...httpCheck(`${siteUrl}/ok`) };
  it("refuses malformed JSON with 400", () => expectProblem(batch("{items:"), 400));
  it("refuses an empty batch, more than 500 items and wrong types with 422", async () => {
    await expectProblem(batch({ items: [] }), 422);
    await expectProblem(batch({ items: Array.from({ length: 501 }, () => item) }), 422);
    await expectProblem(batch({ items: [{ ...item, payload: { url: 7 } }] }), 422);
    await expectProblem(batch({ items: "all of them" }), 422);
  });
  it("refuses a body over 8 MiB with 413", () => expectProblem(batch(huge(8_500_000)), 413));
  it("answers 404 when an item names an unknown task", () =>
    expectProblem(batch({ items: [item, { task: "nope" }] }), 404));
  it("answers 400 for an unclassifiable parentRunId", () =>
    expectProblem(batch({ items: [item], parentRunId: "run_?" }), 400));
});

describe("reading, listing, canceling and replaying", () => {
  it.each([
    ["GET", "/api/v1/runs/%s"],
    ["POST", "/api/v1/runs/%s/cancel"],
    ["POST", "/api/v1/runs/%s/replay"],
  ])("%s %s: 400 unclassifiable, 404 unknown, 404 another environment's", async (method, pattern) => {
    for (const bad of [
      "nope",
      "run_",
      "run_123",
      `batch_${mintCuid()}`,
      `run_${"x".repeat(300)}`,
      "run_%F0%9F%9A%80",
    ]) {
      await expectProblem(api.request(method, pattern.replace("%s", bad)), 400);
    }
    await expectProblem(api.request(method, pattern.replace("%s", unknownRun)), 404);
    await expectProblem(stranger.request(method, pattern.replace("%s", runId)), 404);
  });

  it("GET /api/v1/batches/:id: 400 unclassifiable, 404 unknown, 404 another environment's", async () => {
    await expectProblem(api.request("GET", "/api/v1/batches/batch_nope"), 400);
    await expectProblem(api.request("GET", `/api/v1/batches/${unknownBatch}`), 404);
    await expectProblem(stranger.request("GET", `/api/v1/batches/${batchId}`), 404);
  });

  it("GET /api/v1/runs refuses bad queries", async () => {
    await expectProblem(api.request("GET", "/api/v1/runs?limit=0"), 422);
    await expectProblem(api.request("GET", "/api/v1/runs?limit=ten"), 422);
    await expectProblem(api.request("GET", "/api/v1/runs?status=SLEEPING"), 422);
    await expectProblem(api.request("GET", "/api/v1/runs?colour=blue"), 422);
    await expectProblem(api.request("GET", "/api/v1/runs?cursor=garbage"), 400);
    await expectProblem(api.request("GET", "/api/v1/runs?batchId=batch_nope"), 400);
  });

  it("POST cancel on a finished run is a 409", () =>
    expectProblem(api.request("POST", `/api/v1/runs/${finishedRunId}/cancel`), 409));

  it("does not list another environment's runs", async () => {
    const { body } = await stranger.json("GET", "/api/v1/runs?limit=100");
    expect(body.data.map((r: { id: string }) => r.id)).not.toContain(runId);
  });

  it("unknown routes are a 404 problem", () => expectProblem(api.request("GET", "/api/v1/nothing-here"), 404));
});
