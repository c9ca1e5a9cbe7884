/**
 * Run pages in the Workers runtime: a page link opens its suite run, that suite run's cases and their
 * screenshots, and nothing else; a wrong, tampered, expired or other-subject link is an HTML error page that
 * shows none of the run's data.
 */
import { env } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import type { RunEvent } from "../../schema/live.ts";
import { currentAttemptSteps } from "../../worker/pages/run-page.ts";
import { artifactKey } from "../../worker/runs/artifacts.ts";
import { mintPageToken, mintPublicAccessToken } from "../../worker/runs/tokens.ts";
import { parseFriendlyId } from "../../worker/store/ids.ts";
import { client, createTenant, siteUrl, updateRunRow } from "./support.ts";

const PNG = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]);

interface SuiteRun {
  environmentId: string;
  apiKey: string;
  id: string;
  runs: string[];
  pageUrl: string;
  token: string;
}

/** A new tenant's suite run. Its browser cases never start (the test executor cannot call back): enough for a page. */
async function startSuiteRun(name: string): Promise<SuiteRun> {
  const tenant = await createTenant();
  const api = client(tenant.apiKey);
  const suite = await api.json("POST", "/api/v1/suites", {
    name,
    repository: `${tenant.installation!.account}/shop`,
    baseUrl: siteUrl,
    cases: [
      { name: `${name}: home`, steps: [{ action: "goto", url: "/ok" }] },
      { name: `${name}: about`, steps: [{ action: "goto", url: "/about" }] },
    ],
  });
  const started = await api.json("POST", `/api/v1/suites/${suite.body.id}/runs`, { sha: "a".repeat(40), ref: "main" });
  expect(started.status, JSON.stringify(started.body)).toBe(201);
  const { id, runs, pageUrl } = started.body;
  return { ...tenant, id, runs, pageUrl, token: new URL(pageUrl).searchParams.get("token")! };
}

const get = (path: string, headers: Record<string, string> = {}) =>
  exports.default.fetch(`http://flightcheck${path}`, { headers });

/** An error page: HTML with the status's heading and none of the suite run's data. */
async function expectErrorPage(response: Response, status: number, heading: string, secrets: string[]) {
  expect(response.status).toBe(status);
  expect(response.headers.get("content-type")).toBe("text/html; charset=utf-8");
  const body = await response.text();
  expect(body).toContain(`<h1>${heading}</h1>`);
  for (const secret of secrets) expect(body).not.toContain(secret);
}

let mine: SuiteRun;
let theirs: SuiteRun;
beforeAll(async () => {
  [mine, theirs] = await Promise.all([startSuiteRun("checkout"), startSuiteRun("search")]);
});

describe("GET /runs/:id", () => {
  it("shows the suite run a page link opens, as HTML with its cases, private to the link", async () => {
    expect(mine.pageUrl).toMatch(/^http:\/\/flightcheck\/runs\/batch_[0-9A-Za-z]{27}\?token=[\w-]+\.[\w-]+$/);
    const response = await get(`/runs/${mine.id}?token=${mine.token}`);
    expect(response.status).toBe(200);
    expect(response.headers.get("cache-control")).toBe("no-store");
    expect(response.headers.get("referrer-policy")).toBe("no-referrer");
    expect(response.headers.get("content-security-policy")).toMatch(
      /default-src 'none'; style-src 'self'; script-src 'self'/,
    );
    const body = await response.text();
    expect(body).toContain("<h1>Suite run: checkout</h1>");
    expect(body).toContain('role="status"');
    expect(body).toContain("checkout: home");
    expect(body).toContain(`href="/runs/${mine.runs[0]}?token=${mine.token}"`);
    // Still running: the page watches its batch's live socket with the same token.
    expect(body).toContain(`data-live="/api/v1/batches/${mine.id}/live?token=${mine.token}"`);
  });

  it("opens the suite run's cases with its token, and a case with its own", async () => {
    const withBatchToken = await get(`/runs/${mine.runs[1]}?token=${mine.token}`);
    expect(withBatchToken.status).toBe(200);
    const body = await withBatchToken.text();
    expect(body).toContain("<h1>checkout: about</h1>");
    // The run's live socket takes a token for the run itself, minted for the page.
    const liveToken = /data-live="\/api\/v1\/runs\/run_\w+\/live\?token=([^"]+)"/.exec(body)?.[1];
    expect(liveToken).toBeDefined();
    expect(liveToken).not.toBe(mine.token);

    const runToken = await mintPageToken(env.SIGNING_SECRET, mine.environmentId, mine.runs[0]!);
    expect((await get(`/runs/${mine.runs[0]}?token=${runToken}`)).status).toBe(200);
  });

  it("answers a tampered, expired, missing or wrong-scope link with 401 and no data", async () => {
    const secrets = [mine.id, "checkout", "acme/shop", mine.runs[0]!];
    const [body, signature] = mine.token.split(".") as [string, string];
    const flipped = `${signature.slice(0, -2)}${signature.at(-2) === "A" ? "B" : "A"}${signature.at(-1)}`;
    const expired = await mintPageToken(env.SIGNING_SECRET, mine.environmentId, mine.id, -60);
    const forged = await mintPageToken("another-signing-secret-0123456789abcdef", mine.environmentId, mine.id);
    const publicToken = await mintPublicAccessToken(env.SIGNING_SECRET, mine.environmentId, mine.id);
    for (const token of [`${body}.${flipped}`, `${body}x.${signature}`, expired, forged, publicToken, "", "garbage"]) {
      await expectErrorPage(await get(`/runs/${mine.id}?token=${token}`), 401, "This link does not work", secrets);
      await expectErrorPage(await get(`/runs/${mine.runs[0]}?token=${token}`), 401, "This link does not work", secrets);
    }
    await expectErrorPage(await get(`/runs/${mine.id}`), 401, "This link does not work", secrets);
    // An API key is not a page credential.
    await expectErrorPage(
      await get(`/runs/${mine.id}`, { authorization: `Bearer ${mine.apiKey}` }),
      401,
      "This link does not work",
      secrets,
    );
  });

  it("answers 404 for a subject the link does not open", async () => {
    const secrets = [mine.id, "checkout", mine.runs[0]!];
    const runToken = await mintPageToken(env.SIGNING_SECRET, mine.environmentId, mine.runs[0]!);
    const otherEnvironment = await mintPageToken(env.SIGNING_SECRET, theirs.environmentId, mine.id);
    for (const [path, token] of [
      [`/runs/${mine.id}`, theirs.token], // another suite run's link
      [`/runs/${mine.runs[0]}`, theirs.token], // a case of another suite run
      [`/runs/${mine.id}`, runToken], // a case's link does not open its suite run
      [`/runs/${mine.runs[1]}`, runToken], // nor its sibling
      [`/runs/${mine.id}`, otherEnvironment], // right subject, another environment
    ] as const) {
      await expectErrorPage(await get(`${path}?token=${token}`), 404, "Not found", secrets);
    }
    const missing = `batch_${"A".repeat(27)}`;
    await expectErrorPage(
      await get(`/runs/${missing}?token=${await mintPageToken(env.SIGNING_SECRET, mine.environmentId, missing)}`),
      404,
      "Not found",
      secrets,
    );
  });

  it("answers 400 for an address that names no run", async () => {
    for (const id of ["nope", "batch_123", "run_", "waitpoint_cabcdefghijklmnopqrstuvwx"]) {
      await expectErrorPage(await get(`/runs/${id}?token=${mine.token}`), 400, "Not a run address", [
        mine.id,
        "checkout",
      ]);
    }
    await expectErrorPage(await get(`/runs/${mine.id}/elsewhere?token=${mine.token}`), 404, "Not found", [
      mine.id,
      "checkout",
    ]);
  });
});

describe("a running case's page", () => {
  it("shows the running attempt's steps from the live log and watches from its last event", async () => {
    const runId = mine.runs[1]!;
    await updateRunRow(parseFriendlyId("run", runId).id, { status: "EXECUTING", attempt: 1 });
    const log = env.RUN_DO.getByName(runId);
    await log.append("status", { status: "EXECUTING" });
    await log.append("step", { index: 0, action: "goto", name: "open about", status: "PASSED", durationMs: 12 });
    const last = await log.append("step", {
      index: 1,
      action: "expectTitle",
      name: "title says About",
      status: "RUNNING",
    });
    const body = await (await get(`/runs/${runId}?token=${mine.token}`)).text();
    expect(body).toContain("Running</span> · attempt 1 of 3 · step 2. title says About</p>");
    expect(body).toContain("<caption>Steps of attempt 1 of 3</caption>");
    expect(body).toContain(
      '<th role="rowheader" scope="row">1. open about</th>' +
        '<td role="cell"><span class="st ok"><span aria-hidden="true">✓</span> Passed</span></td>' +
        '<td role="cell">12 ms</td>',
    );
    expect(body).toContain(`data-since="${last}"`);
  });

  it("keeps only the attempt running now: a retry starts afresh, a resume from WAITING continues", () => {
    let seq = 0;
    const event = (type: RunEvent["type"], data: unknown) =>
      ({ seq: ++seq, type, data, at: new Date().toISOString() }) as RunEvent;
    const step = (index: number, status: string) =>
      event("step", { index, action: "click", name: `step ${index}`, status });
    const steps = currentAttemptSteps([
      event("status", { status: "EXECUTING" }),
      step(0, "PASSED"),
      step(1, "PASSED"),
      step(2, "FAILED"),
      event("status", { status: "PENDING" }), // retried: attempt 2 starts from nothing
      event("status", { status: "EXECUTING" }),
      step(0, "PASSED"),
      event("status", { status: "WAITING" }),
      event("status", { status: "EXECUTING", resumedBy: [] }), // the same attempt goes on
      step(1, "RUNNING"),
    ]);
    expect(steps.map(({ index, status }) => [index, status])).toEqual([
      [0, "PASSED"],
      [1, "RUNNING"],
    ]);
  });
});

describe("GET /runs/:runId/artifacts/:attempt/:name", () => {
  it("serves a case's screenshot to its suite run's link or its own, and to nobody else", async () => {
    const runId = mine.runs[0]!;
    await env.ARTIFACTS.put(artifactKey(parseFriendlyId("run", runId).id, 1, "failure.png"), PNG, {
      httpMetadata: { contentType: "image/png" },
    });
    const path = `/runs/${runId}/artifacts/1/failure.png`;
    const runToken = await mintPageToken(env.SIGNING_SECRET, mine.environmentId, runId);
    for (const token of [mine.token, runToken]) {
      const response = await get(`${path}?token=${token}`);
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toBe("image/png");
      expect(new Uint8Array(await response.arrayBuffer())).toEqual(PNG);
    }
    const expired = await mintPageToken(env.SIGNING_SECRET, mine.environmentId, mine.id, -1);
    const siblingToken = await mintPageToken(env.SIGNING_SECRET, mine.environmentId, mine.runs[1]!);
    await expectErrorPage(await get(`${path}?token=${expired}`), 401, "This link does not work", [runId]);
    await expectErrorPage(await get(path, { authorization: `Bearer ${mine.apiKey}` }), 401, "This link does not work", [
      runId,
    ]);
    await expectErrorPage(await get(`${path}?token=${theirs.token}`), 404, "Not found", [runId]);
    await expectErrorPage(await get(`${path}?token=${siblingToken}`), 404, "Not found", [runId]);
    await expectErrorPage(await get(`/runs/${runId}/artifacts/2/failure.png?token=${mine.token}`), 404, "Not found", [
      runId,
    ]);
    await expectErrorPage(
      await get(`/runs/${runId}/artifacts/1/..%2Fsecret.png?token=${mine.token}`),
      404,
      "Not found",
      [runId],
    );
    // The API's own route still takes the API key.
    expect(
      (
        await get(`/api/v1/${artifactKey(parseFriendlyId("run", runId).id, 1, "failure.png")}`, {
          authorization: `Bearer ${mine.apiKey}`,
        })
      ).status,
    ).toBe(200);
  });
});

describe("the live socket", () => {
  it("takes a page token for its own subject only", async () => {
    const open = (path: string) =>
      exports.default.fetch(`http://flightcheck${path}`, { headers: { upgrade: "websocket" } });
    const accepted = await open(`/api/v1/batches/${mine.id}/live?token=${mine.token}`);
    expect(accepted.status).toBe(101);
    accepted.webSocket!.accept();
    accepted.webSocket!.close(1000);
    expect((await open(`/api/v1/batches/${mine.id}/live?token=${theirs.token}`)).status).toBe(401);
    expect((await open(`/api/v1/runs/${mine.runs[0]}/live?token=${mine.token}`)).status).toBe(401);
  });
});
