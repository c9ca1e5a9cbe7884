import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import type { BrowserContext } from "playwright";
import { describe, expect, it } from "vitest";
import { runCase, type RunCaseHooks } from "../../executor/run-case.ts";
import type { StepEvent } from "../../schema/live.ts";
import { MAX_STEP_SCREENSHOTS } from "../../schema/contracts.ts";
import { caseSchema, type CaseInput } from "../../schema/steps.ts";
import { useBrowserAndDemoSite } from "../support/browser.ts";

const demo = useBrowserAndDemoSite();

type Steps = CaseInput["steps"];
const noTokens: RunCaseHooks = { waitForToken: async () => ({ ok: false, output: null }) };

/**
 * Runs `steps` as a case against the demo site. Steps meant to fail by waiting carry a short timeoutMs of their
 * own (1 s where the message must show what was found), so the failures are quick but not flaky under load.
 */
function run(steps: Steps, options: Partial<CaseInput> = {}, hooks: Partial<RunCaseHooks> = {}) {
  const testCase = caseSchema.parse({ name: "test", stepTimeoutMs: 3_000, ...options, steps });
  return runCase(demo.browser, { case: testCase, baseUrl: demo.site.url }, { ...noTokens, ...hooks });
}

/** A browser whose contexts report when they close. */
function trackingContexts() {
  const contexts: BrowserContext[] = [];
  const closed: BrowserContext[] = [];
  const source = {
    async newContext() {
      const context = await demo.browser.newContext();
      context.on("close", () => closed.push(context));
      contexts.push(context);
      return context;
    },
  };
  return { source, contexts, closed };
}

const PNG_MAGIC = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

describe("steps that pass", () => {
  it("signs in: goto, fill by label and placeholder, click by role, expectUrl/Title/Text/Visible", async () => {
    const result = await run([
      { action: "goto", url: "/login" },
      { action: "fill", target: { label: "Email" }, value: "demo@flightcheck.dev" },
      { action: "fill", target: { placeholder: "Your password" }, value: "hunter2" },
      { action: "click", target: { role: "button", name: "Sign in" } },
      { action: "expectUrl", url: "/dashboard" },
      { action: "expectUrl", url: { pattern: "/dash(board)?$" } },
      { action: "expectTitle", title: "Dashboard · Flightcheck Demo" },
      { action: "expectText", target: "h1", text: "Welcome back", exact: true },
      { action: "expectText", target: { testId: "signed-in-as" }, text: "demo@flightcheck.dev" },
      { action: "expectVisible", target: { text: "Welcome", exact: false } },
    ]);
    expect(result.error).toBeUndefined();
    expect(result).toMatchObject({ status: "COMPLETED", retryable: false, artifacts: [] });
    expect(result.steps.every((step) => step.status === "PASSED")).toBe(true);
    expect(result.screenshot).toBeUndefined();
  });

  it("adds a todo: select, press on a target, check, expectVisible false", async () => {
    const result = await run([
      { action: "goto", url: "/todos" },
      { action: "select", target: { label: "Priority" }, value: "High" },
      { action: "fill", target: { placeholder: "What needs doing?" }, value: "Repot the fern" },
      { action: "press", target: { label: "New todo" }, key: "Enter" },
      { action: "expectText", target: "[data-testid=todo-list] li:last-child", text: "Repot the fern high" },
      { action: "check", target: { role: "checkbox", name: "Repot the fern" } },
      { action: "expectText", target: { testId: "todo-count" }, text: "1 open", exact: true },
      { action: "check", target: { role: "checkbox", name: "Repot the fern" }, checked: false },
      { action: "expectText", target: { testId: "todo-count" }, text: "2 open", exact: true },
      { action: "select", target: "#priority", values: ["low"] },
      { action: "expectVisible", target: { text: "Water the plants" } },
      { action: "expectVisible", target: { text: "Buy a cactus" }, visible: false },
    ]);
    expect(result.error).toBeUndefined();
    expect(result.status).toBe("COMPLETED");
  });

  it("presses a key on the page, waits for an element and for a time, takes named screenshots", async () => {
    const result = await run([
      { action: "goto", url: "/" },
      { action: "press", key: "?" },
      { action: "expectVisible", target: { role: "heading", name: "Keyboard shortcuts" } },
      { action: "screenshot", name: "home with shortcuts", fullPage: true },
      { action: "goto", url: "/slow-widget?ms=300" },
      { action: "waitFor", target: { role: "status" } },
      { action: "expectVisible", target: "#loading", visible: false },
      { action: "waitFor", ms: 50 },
      { action: "screenshot" },
    ]);
    expect(result.error).toBeUndefined();
    expect(result.artifacts.map(({ name, stepIndex }) => ({ name, stepIndex }))).toEqual([
      { name: "home with shortcuts", stepIndex: 3 },
      { name: "screenshot-8", stepIndex: 8 },
    ]);
    for (const artifact of result.artifacts) expect(artifact.body.subarray(0, 8)).toEqual(PNG_MAGIC);
  });

  it("keeps at most MAX_STEP_SCREENSHOTS screenshots; the rest pass without one, with a note", async () => {
    const shots = Array.from({ length: MAX_STEP_SCREENSHOTS + 2 }, () => ({ action: "screenshot" as const }));
    const result = await run([{ action: "goto", url: "/" }, ...shots]);
    expect(result.status).toBe("COMPLETED");
    expect(result.artifacts).toHaveLength(MAX_STEP_SCREENSHOTS);
    expect(result.notes).toEqual(
      [MAX_STEP_SCREENSHOTS + 1, MAX_STEP_SCREENSHOTS + 2].map(
        (index) => `steps[${index}] screenshot not kept: a case keeps at most ${MAX_STEP_SCREENSHOTS} screenshots`,
      ),
    );
  });

  it("reports each step as it starts and ends", async () => {
    const events: StepEvent[] = [];
    await run(
      [
        { action: "goto", url: "/", name: "open home" },
        { action: "expectTitle", title: "Nope", timeoutMs: 500 },
      ],
      {},
      { onStep: (event) => events.push(event) },
    );
    expect(events.map(({ index, name, status }) => `${index} ${name} ${status}`)).toEqual([
      "0 open home RUNNING",
      "0 open home PASSED",
      '1 expectTitle "Nope" RUNNING',
      '1 expectTitle "Nope" FAILED',
    ]);
    expect(events[1]!.durationMs).toBeGreaterThan(0);
    expect(events[3]!.error).toContain('steps[1] expectTitle "Nope"');
  });
});

describe("steps that fail say which step, what was expected and what was found", () => {
  const cases: [string, Steps, string[]][] = [
    [
      "click on a missing element",
      [{ action: "click", target: { role: "button", name: "Buy now" }, timeoutMs: 500 }],
      [
        'steps[1] click role=button "Buy now": locator.click: Timeout 500ms exceeded.',
        "waiting for getByRole('button', { name: 'Buy now' })",
      ],
    ],
    [
      "fill on a missing field",
      [{ action: "fill", target: { label: "Phone" }, value: "1", timeoutMs: 500 }],
      ['steps[1] fill label="Phone": locator.fill: Timeout 500ms exceeded.'],
    ],
    [
      "press on a missing field",
      [{ action: "press", target: { testId: "search" }, key: "Enter", timeoutMs: 500 }],
      ['steps[1] press Enter on testId="search": locator.press: Timeout 500ms exceeded.'],
    ],
    [
      "press an unknown key",
      [{ action: "press", key: "Hyper" }],
      ['steps[1] press Hyper: keyboard.press: Unknown key: "Hyper"'],
    ],
    [
      "select a missing option",
      [
        { action: "goto", url: "/todos" },
        { action: "select", target: { label: "Priority" }, value: "urgent", timeoutMs: 3_000 },
      ],
      [
        'steps[2] select "urgent" in label="Priority": locator.selectOption: Timeout 3000ms exceeded.',
        "did not find some options",
      ],
    ],
    [
      "check something that is not a checkbox",
      [{ action: "check", target: { text: "Plants, pots" } }],
      ['steps[1] check text="Plants, pots": locator.setChecked: ', "Not a checkbox or radio button"],
    ],
    [
      "expectText that is not there",
      [{ action: "expectText", target: { testId: "tagline" }, text: "Free shipping", timeoutMs: 1_000 }],
      [
        'steps[1] expectText testId="tagline": expect(locator).toContainText(expected) failed',
        'Expected substring: "Free shipping"',
        'Received string:    "Plants, pots and everything in between."',
      ],
    ],
    [
      "expectText exact on a longer text",
      [{ action: "expectText", target: "h1", text: "Flightcheck", exact: true, timeoutMs: 1_000 }],
      ['Expected: "Flightcheck"', 'Received: "Flightcheck Demo Store"'],
    ],
    [
      "expectVisible on a missing element",
      [{ action: "expectVisible", target: { testId: "cart" }, timeoutMs: 500 }],
      [
        'steps[1] expectVisible testId="cart": expect(locator).toBeVisible() failed',
        "Expected: visible",
        "element(s) not found",
      ],
    ],
    [
      "expectVisible false on a visible element",
      [{ action: "expectVisible", target: "h1", visible: false, timeoutMs: 1_000 }],
      ["expect(locator).toBeHidden() failed", "Expected: hidden", "Received: visible"],
    ],
    [
      "expectUrl elsewhere",
      [{ action: "expectUrl", url: "/about", timeoutMs: 500 }],
      [
        "steps[1] expectUrl /about: expect(page).toHaveURL(expected) failed",
        `Expected: "${"SITE"}/about"`,
        `Received: "${"SITE"}/"`,
      ],
    ],
    [
      "expectUrl pattern",
      [{ action: "expectUrl", url: { pattern: "/checkout$" }, timeoutMs: 500 }],
      ['steps[1] expectUrl pattern="/checkout$":', "Expected pattern: /\\/checkout$/"],
    ],
    [
      "expectTitle wrong",
      [{ action: "expectTitle", title: "Shop", timeoutMs: 1_000 }],
      [
        'steps[1] expectTitle "Shop": expect(page).toHaveTitle(expected) failed',
        'Expected: "Shop"',
        'Received: "Home · Flightcheck Demo"',
      ],
    ],
    [
      "waitFor an element that comes too late",
      [
        { action: "goto", url: "/slow-widget?ms=5000" },
        { action: "waitFor", target: { testId: "widget" }, timeoutMs: 500 },
      ],
      [
        'steps[2] waitFor testId="widget": locator.waitFor: Timeout 500ms exceeded.',
        "waiting for getByTestId('widget') to be visible",
      ],
    ],
  ];

  it.each(cases)("%s", async (_, steps, fragments) => {
    const result = await run([{ action: "goto", url: "/" }, ...steps]);
    expect(result.status).toBe("FAILED");
    expect(result.retryable).toBe(false);
    const failedAt = result.steps.findIndex((step) => step.status === "FAILED");
    expect(result.error?.stepIndex).toBe(failedAt);
    expect(result.steps[failedAt]!.error).toBe(result.error?.message);
    for (const fragment of fragments)
      expect(result.error?.message).toContain(fragment.replaceAll("SITE", demo.site.url));
    expect(result.error?.message).not.toContain("\u001b[");
    expect(result.error!.message.split("\n").length).toBeLessThanOrEqual(16);
  });

  it("marks the steps after a failure as skipped", async () => {
    const result = await run([
      { action: "goto", url: "/" },
      { action: "expectTitle", title: "x", timeoutMs: 500 },
      { action: "goto", url: "/about" },
    ]);
    expect(result.steps.map((step) => step.status)).toEqual(["PASSED", "FAILED", "SKIPPED"]);
    expect(result.steps[2]).toMatchObject({ durationMs: 0, name: "goto /about" });
  });

  it("keeps a PNG screenshot of the page at failure", async () => {
    const result = await run([
      { action: "goto", url: "/about" },
      { action: "expectVisible", target: "#missing", timeoutMs: 500 },
    ]);
    expect(result.screenshot?.subarray(0, 8)).toEqual(PNG_MAGIC);
  });
});

describe("templates from waitForToken", () => {
  it("passes the token's output to later steps through {{saveAs.path}}", async () => {
    const seen: unknown[] = [];
    const result = await run(
      [
        { action: "waitForToken", idempotencyKey: "deploy-7", timeoutMs: 5_000, saveAs: "preview" },
        { action: "goto", url: "{{preview.url}}/login" },
        { action: "fill", target: { label: "Email" }, value: "{{preview.user.email}}" },
        { action: "expectUrl", url: "{{preview.url}}/login" },
        { action: "expectText", target: "h1", text: "{{preview.heading}}" },
      ],
      {},
      {
        waitForToken: async (step, signal) => {
          seen.push(step, signal.aborted);
          return { ok: true, output: { url: demo.site.url, heading: "Log in", user: { email: "ada@example.dev" } } };
        },
      },
    );
    expect(result.error).toBeUndefined();
    expect(seen).toEqual([
      { action: "waitForToken", idempotencyKey: "deploy-7", timeoutMs: 5_000, saveAs: "preview" },
      false,
    ]);
  });

  it("fails the step when the token times out", async () => {
    const result = await run([
      { action: "waitForToken", idempotencyKey: "deploy-8", timeoutMs: 1_000, saveAs: "preview" },
      { action: "goto", url: "{{preview.url}}" },
    ]);
    expect(result).toMatchObject({ status: "FAILED", retryable: false, error: { stepIndex: 0 } });
    expect(result.error?.message).toBe(
      'steps[0] waitForToken "deploy-8": token "deploy-8" timed out after 1000 ms without being completed',
    );
  });

  it("names a property the output lacks, and refuses a non-http URL it produces", async () => {
    const hooks = { waitForToken: async () => ({ ok: true, output: { url: "javascript:alert(1)" } }) };
    const token = { action: "waitForToken", idempotencyKey: "k", timeoutMs: 1_000, saveAs: "preview" } as const;
    const missing = await run([token, { action: "goto", url: "{{preview.href}}" }], {}, hooks);
    expect(missing.error?.message).toBe(
      'steps[1] goto {{preview.href}}: {{preview.href}}: preview has no property "href"',
    );
    const script = await run([token, { action: "goto", url: "{{preview.url}}" }], {}, hooks);
    expect(script.error?.message).toBe(
      "steps[1] goto {{preview.url}}: javascript: URLs are not allowed: javascript:alert(1)",
    );
  });
});

describe("timeouts, retries and aborts", () => {
  it("a hanging navigation hits its step timeout, and a navigation timeout may be retried", async () => {
    const result = await run([{ action: "goto", url: "/hang", timeoutMs: 700 }]);
    expect(result).toMatchObject({ status: "FAILED", retryable: true });
    expect(result.error?.message).toContain("steps[0] goto /hang: page.goto: Timeout 700ms exceeded.");
    // A screenshot even though the navigation is still pending: without stopping it first, the screenshot
    // waits out its own timeout and the case has none.
    expect(result.screenshot?.subarray(0, 8)).toEqual(PNG_MAGIC);
  });

  it("a hanging case ends TIMED_OUT at the case timeout, with its context closed", async () => {
    const { source, contexts, closed } = trackingContexts();
    const testCase = caseSchema.parse({
      name: "hangs",
      timeoutMs: 5_000,
      steps: [
        // A hook that never answers and ignores its signal: only the case timeout can end this.
        { action: "waitForToken", idempotencyKey: "never", timeoutMs: 1_000 },
        { action: "goto", url: "/about" },
      ],
    });
    let tokenSignal: AbortSignal | undefined;
    const waitForToken = (_: unknown, signal: AbortSignal) => {
      tokenSignal = signal;
      return new Promise<never>(() => {});
    };
    const result = await runCase(source, { case: testCase, baseUrl: demo.site.url }, { waitForToken });
    expect(result).toMatchObject({ status: "TIMED_OUT", retryable: false, error: { stepIndex: 0 } });
    expect(tokenSignal?.aborted).toBe(true);
    expect(result.error?.message).toBe('case timed out after 5000 ms during steps[0] waitForToken "never"');
    expect(result.steps.map((step) => step.status)).toEqual(["FAILED", "SKIPPED"]);
    expect(result.screenshot?.subarray(0, 8)).toEqual(PNG_MAGIC);
    expect(closed).toEqual(contexts);
  });

  it("a navigation to a closed port is FAILED and retryable", async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise((resolve) => server.close(resolve));
    const result = await run([{ action: "goto", url: `http://127.0.0.1:${port}/` }]);
    expect(result).toMatchObject({ status: "FAILED", retryable: true });
    const url = `http://127.0.0.1:${port}/`;
    expect(result.error?.message).toBe(`steps[0] goto ${url}: page.goto: net::ERR_CONNECTION_REFUSED at ${url}`);
  });

  it("an assertion failure is not retryable, even about an error page", async () => {
    const result = await run([
      { action: "goto", url: "/nowhere" },
      { action: "expectText", target: "body", text: "net::ERR_FAILED", timeoutMs: 500 },
    ]);
    expect(result).toMatchObject({ status: "FAILED", retryable: false, error: { stepIndex: 1 } });
  });

  it("a browser that cannot open a context fails the case as retryable, before any step", async () => {
    const broken = { newContext: () => Promise.reject(new Error("browserType.launch: Failed to launch")) };
    const result = await runCase(
      broken,
      { case: caseSchema.parse({ name: "n", steps: [{ action: "goto", url: "/" }] }), baseUrl: demo.site.url },
      noTokens,
    );
    expect(result).toMatchObject({
      status: "FAILED",
      retryable: true,
      error: { message: "could not open a browser page: browserType.launch: Failed to launch", stepIndex: undefined },
      steps: [{ status: "SKIPPED" }],
    });
  });

  it("stops promptly when aborted, closing the context", async () => {
    const { source, contexts, closed } = trackingContexts();
    const controller = new AbortController();
    const testCase = caseSchema.parse({
      name: "aborted",
      steps: [
        { action: "goto", url: "/" },
        { action: "waitFor", ms: 30_000 },
      ],
    });
    const running = runCase(
      source,
      { case: testCase, baseUrl: demo.site.url },
      { ...noTokens, signal: controller.signal, onStep: (event) => event.index === 1 && controller.abort() },
    );
    const result = await running;
    expect(result).toMatchObject({
      status: "FAILED",
      retryable: false,
      error: { message: "case aborted during steps[1] waitFor 30000 ms", stepIndex: 1 },
    });
    expect(result.durationMs).toBeLessThan(10_000); // the wait was 30 s; a busy machine still stops well within
    expect(result.screenshot).toBeUndefined();
    expect(closed).toEqual(contexts);
  });
});
