import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { MAX_SUMMARY_BYTES } from "../../executor/check-run-output.ts";
import { createGitHubApp, GitHubError, renderSummary, renderTitle, type GitHubApp } from "../../executor/github.ts";
import { checkRunSyncSchema, type CheckRunSync } from "../../schema/github.ts";
import { cutText } from "../../schema/storable.ts";
import { cleanMessage } from "../../executor/run-case.ts";
import { generateAppKeyPair, startFakeGitHub, type FakeGitHub } from "../../scripts/local-github.ts";

const APP_ID = 424242;
const keys = generateAppKeyPair();
let github: FakeGitHub;
let app: GitHubApp;

beforeAll(async () => {
  github = await startFakeGitHub({ appId: APP_ID, publicKey: keys.publicKey });
  app = createGitHubApp({ appId: APP_ID, privateKey: keys.privateKey, apiUrl: github.url });
});
afterAll(() => github?.close());
beforeEach(() => {
  github.calls.length = 0;
});

let installations = 100;
/**
 * A fresh installation per test, so one test's cached token never serves another, and a fresh suite run, so
 * one test's check run is never found by another.
 */
function suiteRun(overrides: Partial<CheckRunSync> = {}): CheckRunSync {
  installations += 1;
  return checkRunSyncSchema.parse({
    installationId: installations,
    repository: "acme/shop",
    headSha: "a".repeat(40),
    name: "flightcheck: checkout",
    detailsUrl: "https://flightcheck.example/suite-runs/batch_1",
    externalId: `batch_${installations}`,
    status: "queued",
    cases: [
      { name: "login works", status: "PENDING" },
      { name: "pay by card", status: "PENDING" },
    ],
    ...overrides,
  } satisfies CheckRunSync);
}

const checkRunCalls = () => github.calls.filter((call) => call.path.includes("/check-runs"));
const tokenExchanges = () => github.calls.filter((call) => call.path.endsWith("/access_tokens"));

describe("syncCheckRun against a local GitHub", () => {
  it("creates, updates and completes a check run with one token exchange", async () => {
    const queued = suiteRun();
    const { checkRunId } = await app.syncCheckRun(queued);
    expect(github.checkRuns.get(checkRunId)).toMatchObject({
      head_sha: "a".repeat(40),
      name: "flightcheck: checkout",
      status: "queued",
      external_id: queued.externalId,
      details_url: "https://flightcheck.example/suite-runs/batch_1",
      output: { title: "Queued: 2 cases" },
    });

    const running = {
      ...queued,
      checkRunId,
      status: "in_progress" as const,
      startedAt: "2030-01-01T10:00:00.000Z",
      cases: [
        { name: "login works", status: "COMPLETED" as const, durationMs: 1_234 },
        { name: "pay by card", status: "EXECUTING" as const },
      ],
    };
    expect(await app.syncCheckRun(running)).toEqual({ checkRunId });
    expect(github.checkRuns.get(checkRunId)).toMatchObject({
      status: "in_progress",
      started_at: "2030-01-01T10:00:00.000Z",
      output: { title: "Running: 1 of 2 cases finished" },
    });

    const failed = {
      ...running,
      status: "completed" as const,
      conclusion: "failure" as const,
      completedAt: "2030-01-01T10:01:00.000Z",
      cases: [
        running.cases[0]!,
        {
          name: "pay by card",
          status: "FAILED" as const,
          durationMs: 5_300,
          failingStep: { index: 2, label: "click Pay", message: "expected total | got 0\nat checkout.spec:3" },
          screenshotUrl: "https://flightcheck.example/artifacts/shot (1).png",
        },
      ],
    };
    await app.syncCheckRun(failed);
    const checkRun = github.checkRuns.get(checkRunId)!;
    expect(checkRun).toMatchObject({
      status: "completed",
      conclusion: "failure",
      completed_at: "2030-01-01T10:01:00.000Z",
      head_sha: "a".repeat(40),
      output: { title: "1 passed, 1 failed" },
    });
    const summary = (checkRun.output as { summary: string }).summary;
    expect(summary).toContain(
      "| ❌ failed | pay by card | 5.3 s | Step 3 (click Pay): expected total \\| got 0 at checkout.spec:3 |",
    );
    expect(summary).toContain("[screenshot](https://flightcheck.example/artifacts/shot%20%281%29.png)");
    expect(summary).toContain("[Open this suite run in flightcheck](https://flightcheck.example/suite-runs/batch_1)");

    expect(tokenExchanges()).toHaveLength(1);
    expect(tokenExchanges()[0]).toMatchObject({
      method: "POST",
      path: `/app/installations/${queued.installationId}/access_tokens`,
      status: 201,
    });
    expect(checkRunCalls().map(({ method, path, status }) => `${method} ${path} ${status}`)).toEqual([
      `GET /repos/acme/shop/commits/${"a".repeat(40)}/check-runs 200`,
      "POST /repos/acme/shop/check-runs 201",
      `PATCH /repos/acme/shop/check-runs/${checkRunId} 200`,
      `PATCH /repos/acme/shop/check-runs/${checkRunId} 200`,
    ]);
  });

  it("surfaces GitHub's 401 when the App's private key is wrong", async () => {
    const impostor = createGitHubApp({
      appId: APP_ID,
      privateKey: generateAppKeyPair().privateKey,
      apiUrl: github.url,
    });
    const sync = suiteRun();
    const error = await impostor.syncCheckRun(sync).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(GitHubError);
    expect((error as GitHubError).status).toBe(401);
    expect((error as Error).message).toBe(
      `GitHub POST /app/installations/${sync.installationId}/access_tokens: ` +
        "401 A JSON web token could not be decoded - https://docs.github.com/rest",
    );
    expect(tokenExchanges().map((call) => call.status)).toEqual([401]);
    expect(checkRunCalls()).toEqual([]);
  });

  it("mints a fresh token once when GitHub refuses the cached one", async () => {
    const sync = suiteRun();
    const { checkRunId } = await app.syncCheckRun(sync);
    github.revokeTokens();
    await app.syncCheckRun({ ...sync, checkRunId, status: "in_progress" });
    expect(github.checkRuns.get(checkRunId)?.status).toBe("in_progress");
    expect(
      github.calls.map(({ method, path, status }) => `${method} ${path.replace(/\/\d+\//, "/:id/")} ${status}`),
    ).toEqual([
      "POST /app/installations/:id/access_tokens 201",
      `GET /repos/acme/shop/commits/${"a".repeat(40)}/check-runs 200`,
      "POST /repos/acme/shop/check-runs 201",
      `PATCH /repos/acme/shop/check-runs/${checkRunId} 401`,
      "POST /app/installations/:id/access_tokens 201",
      `PATCH /repos/acme/shop/check-runs/${checkRunId} 200`,
    ]);
  });

  it("retries a 500 and succeeds", async () => {
    github.failNext(1);
    const { checkRunId } = await app.syncCheckRun(suiteRun());
    expect(github.checkRuns.get(checkRunId)?.status).toBe("queued");
    expect(github.calls.map((call) => call.status)).toEqual([500, 201, 200, 201]);
  });

  it("finds the check run whose creation answer was lost instead of creating a second", async () => {
    const earlier = suiteRun();
    // The installation's token is cached, and the commit has another suite run's check run.
    await app.syncCheckRun(earlier);
    github.calls.length = 0;
    github.loseNextAnswers(1, /^POST .*\/check-runs$/);
    const lost = { ...earlier, externalId: "batch_2", detailsUrl: "https://flightcheck.example/suite-runs/batch_2" };
    const { checkRunId } = await app.syncCheckRun(lost);

    const ours = [...github.checkRuns.values()].filter((run) => run.external_id === "batch_2");
    expect(ours.map((run) => run.id)).toEqual([checkRunId]);
    expect(
      checkRunCalls().map(({ method, path, status }) => `${method} ${path.replace(/\/\d+$/, "/:id")} ${status}`),
    ).toEqual([
      `GET /repos/acme/shop/commits/${"a".repeat(40)}/check-runs 200`,
      "POST /repos/acme/shop/check-runs 502",
      `GET /repos/acme/shop/commits/${"a".repeat(40)}/check-runs 200`,
      "PATCH /repos/acme/shop/check-runs/:id 200",
    ]);
  });

  it("gives up after three attempts at a persistent 5xx", async () => {
    github.failNext(3, 502);
    const error = await app.syncCheckRun(suiteRun()).catch((caught: unknown) => caught);
    expect((error as Error).message).toMatch(/^GitHub POST \/app\/installations\/\d+\/access_tokens: 502 Server Error/);
    expect(github.calls.map((call) => call.status)).toEqual([502, 502, 502]);
  });

  it("does not retry a 4xx", async () => {
    const error = await app.syncCheckRun(suiteRun({ checkRunId: 999_999 })).catch((caught: unknown) => caught);
    expect((error as Error).message).toBe(
      "GitHub PATCH /repos/acme/shop/check-runs/999999: 404 Not Found - https://docs.github.com/rest",
    );
    expect(checkRunCalls()).toHaveLength(1);
  });

  it("reports an unreachable GitHub as no response", async () => {
    const closed = await startFakeGitHub({ appId: APP_ID, publicKey: keys.publicKey });
    await closed.close();
    const offline = createGitHubApp({ appId: APP_ID, privateKey: keys.privateKey, apiUrl: closed.url });
    const error = await offline.syncCheckRun(suiteRun()).catch((caught: unknown) => caught);
    expect((error as GitHubError).status).toBe(0);
    expect((error as Error).message).toMatch(
      /^GitHub POST \/app\/installations\/\d+\/access_tokens: no response: .*ECONNREFUSED/,
    );
  });

  it("keeps a summary of 500 huge failures under GitHub's limit, and GitHub accepts it", async () => {
    const cases = Array.from({ length: 500 }, (_, index) => ({
      name: `case ${index}`,
      status: "FAILED" as const,
      durationMs: 10,
      failingStep: { index: 0, label: "goto", message: `boom ${index} `.repeat(1_000).slice(0, 10_000) },
      screenshotUrl: `https://flightcheck.example/artifacts/${index}.png`,
    }));
    const sync = suiteRun({ status: "completed", conclusion: "failure", cases });
    const summary = renderSummary(sync);
    expect(new TextEncoder().encode(summary).length).toBeLessThanOrEqual(MAX_SUMMARY_BYTES);
    expect(summary).toMatch(/_\d+ more cases not shown here \(GitHub's summary limit\): see \[the full run\]/);
    expect(summary).toContain("[the full run](https://flightcheck.example/suite-runs/batch_1)._");
    expect(summary).toContain("| ❌ failed | case 0 | 10 ms | Step 1 (goto): boom 0 boom 0");
    expect(summary.split("\n").find((line) => line.includes("| case 0 |"))).toMatch(/…\s\|\s\[screenshot\]/);

    const { checkRunId } = await app.syncCheckRun(sync);
    expect(github.checkRuns.get(checkRunId)?.output).toEqual({ title: "500 failed", summary });
  });
});

describe("check run output", () => {
  const base = suiteRun();

  it("titles each phase", () => {
    expect(renderTitle({ status: "queued", cases: base.cases })).toBe("Queued: 2 cases");
    expect(
      renderTitle({
        status: "in_progress",
        cases: [
          { name: "a", status: "TIMED_OUT" },
          { name: "b", status: "WAITING" },
          { name: "c", status: "COMPLETED" },
        ],
      }),
    ).toBe("Running: 2 of 3 cases finished (1 timed out)");
    expect(
      renderTitle({
        status: "completed",
        cases: [
          { name: "a", status: "COMPLETED" },
          { name: "b", status: "CANCELED" },
          { name: "c", status: "PENDING" },
        ],
      }),
    ).toBe("1 passed, 1 cancelled, 1 not finished");
    expect(renderTitle({ status: "completed", cases: [] })).toBe("No cases");
  });

  it("escapes markdown in cells and formats durations", () => {
    const summary = renderSummary({
      ...base,
      cases: [
        {
          name: "a | b\\",
          status: "SYSTEM_FAILURE",
          durationMs: 125_000,
          failingStep: {
            index: 0,
            label: "click",
            message: 'waiting for <button class="pay"> *now*\r\n\tthen `retry`',
          },
        },
      ],
    });
    expect(summary).toContain(
      "| 💥 system failure | a \\| b\\\\ | 2 min 05 s | " +
        'Step 1 (click): waiting for \\<button class="pay"\\> \\*now\\* then \\`retry\\` |  |',
    );
  });
});

describe("text from a case in check-run markdown", () => {
  const hostile = "@octocat fixes #1 see https://evil.example [x](https://evil.example) <img src=x>";
  const tail = "mail a@evil.example or www.evil.example";
  const row = (summary: string) => summary.split("\n").find((line) => line.startsWith("| ❌"))!;
  // GitHub's own patterns, on the text it renders (an entity becomes its character first).
  const rendered = (markdown: string) => markdown.replaceAll("&#8203;", "\u200b").replace(/\\(.)/g, "$1");
  const MENTION = /(^|[^\w`])@[A-Za-z0-9]/;
  const REFERENCE = /(^|\W)(#|GH-)\d/i;
  const AUTOLINK = /(https?:\/\/|www\.)/i;

  it("cannot mention, reference issues, link or embed HTML", () => {
    const summary = renderSummary({
      detailsUrl: "https://flightcheck.example/suite-runs/batch_1",
      cases: [
        {
          name: hostile,
          status: "FAILED",
          failingStep: { index: 0, label: "see GH-2 @team", message: `${hostile} ${tail}` },
        },
      ],
    });
    const cells = row(summary);
    const link = "https:&#8203;//evil.example";
    const escaped = `@&#8203;octocat fixes #&#8203;1 see ${link} \\[x\\](${link}) \\<img src=x\\>`;
    expect(cells).toBe(
      `| ❌ failed | ${escaped} |  | Step 1 (see GH&#8203;-2 @&#8203;team): ${escaped} ` +
        "mail a@&#8203;evil.example or www&#8203;.evil.example |  |",
    );
    const text = rendered(cells);
    expect(text).not.toMatch(MENTION);
    expect(text).not.toMatch(REFERENCE);
    expect(text).not.toMatch(AUTOLINK);
    expect(cells).not.toMatch(/(^|[^\\])[[<]/); // no link, image or HTML opens
    const readable = hostile.replace("@", "@\u200b").replace("#", "#\u200b").replaceAll("://", ":\u200b//");
    expect(rendered(cells)).toContain(readable);
  });
});

describe("text cut for GitHub", () => {
  it("never splits a surrogate pair", () => {
    expect(cutText("ab🙂", 3)).toBe("ab");
    expect(cutText("ab🙂", 4)).toBe("ab🙂");
    expect(cutText("a🙂b", 2)).toBe("a");
    expect(cutText("abc", 2)).toBe("ab");
    for (const pad of [0, 1]) {
      const message = cleanMessage(new Error(`${"x".repeat(pad)}${"🙂".repeat(1_500)}`));
      expect(message.isWellFormed(), `padding ${pad}`).toBe(true);
      expect(message.endsWith("…")).toBe(true);
    }
    const summary = renderSummary({
      detailsUrl: "https://flightcheck.example/suite-runs/batch_1",
      cases: [
        {
          name: "🙂".repeat(100),
          status: "FAILED",
          failingStep: { index: 0, label: "go", message: "x🙂".repeat(500) },
        },
      ],
    });
    expect(summary.isWellFormed()).toBe(true);
  });
});

describe("checkRunSyncSchema", () => {
  const valid = { ...suiteRun() } as Record<string, unknown>;
  const issues = (input: Record<string, unknown>) =>
    checkRunSyncSchema
      .safeParse({ ...valid, ...input })
      .error?.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`);

  it("requires a conclusion exactly when completed", () => {
    expect(issues({ status: "completed" })).toEqual([
      "conclusion: conclusion is required when status is completed, and only then",
    ]);
    expect(issues({ conclusion: "success" })).toEqual([
      "conclusion: conclusion is required when status is completed, and only then",
    ]);
    expect(issues({ completedAt: "2030-01-01T00:00:00Z" })).toEqual([
      "completedAt: completedAt is only allowed when status is completed",
    ]);
    expect(
      issues({ status: "completed", conclusion: "timed_out", completedAt: "2030-01-01T00:00:00Z" }),
    ).toBeUndefined();
  });

  it("refuses bad repositories, SHAs, URLs and too many cases", () => {
    expect(issues({ repository: "acme/.." })).toEqual(['repository: a repository name may not be "." or ".."']);
    expect(issues({ repository: "acme" })).toEqual(['repository: expected "owner/name"']);
    expect(issues({ headSha: "abc" })).toEqual(["headSha: expected a 40-hex commit SHA"]);
    expect(issues({ detailsUrl: "javascript:alert(1)" })).toHaveLength(1);
    expect(issues({ cases: [{ name: "a", status: "DONE" }] })?.[0]).toMatch(/^cases\.0\.status: /);
    expect(issues({ cases: Array.from({ length: 501 }, () => ({ name: "a", status: "PENDING" })) })?.[0]).toMatch(
      /^cases: /,
    );
  });
});
