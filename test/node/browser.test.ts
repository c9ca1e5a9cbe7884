import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser } from "playwright";
import { describe, expect, it } from "vitest";
import { expectedChromium, resolveChromium, SYSTEM_CHROMIUM } from "../../executor/browser.ts";
import { runCase } from "../../executor/run-case.ts";
import { caseSchema, type CaseInput } from "../../schema/steps.ts";
import { useBrowserAndDemoSite } from "../support/browser.ts";

const logs: string[] = [];
const logger = { info: (line: string) => logs.push(`info ${line}`), warn: (line: string) => logs.push(`warn ${line}`) };
const demo = useBrowserAndDemoSite(logger);

const noTokens = { waitForToken: async () => ({ ok: false, output: null }) };
const run = (input: CaseInput) =>
  runCase(demo.browser, { case: caseSchema.parse(input), baseUrl: demo.site.url }, noTokens);

/** SIGKILL the browser process, as the OOM killer would; its pid comes from the browser itself. */
async function kill(target: Browser): Promise<void> {
  const session = await target.newBrowserCDPSession();
  const { processInfo } = (await session.send("SystemInfo.getProcessInfo")) as {
    processInfo: { type: string; id: number }[];
  };
  const disconnected = new Promise((resolve) => target.once("disconnected", resolve));
  process.kill(processInfo.find((info) => info.type === "browser")!.id, "SIGKILL");
  await disconnected;
}

describe("which Chromium", () => {
  it("takes CHROMIUM_PATH when it is executable, and falls back when it is not", () => {
    const folder = mkdtempSync(join(tmpdir(), "chromium-"));
    const script = join(folder, "chrome");
    writeFileSync(script, "#!/bin/sh\n");
    expect(() => resolveChromium({ CHROMIUM_PATH: script })).not.toThrow();
    expect(resolveChromium({ CHROMIUM_PATH: script }).source).not.toBe("CHROMIUM_PATH");
    chmodSync(script, 0o755);
    expect(resolveChromium({ CHROMIUM_PATH: script })).toEqual({ executablePath: script, source: "CHROMIUM_PATH" });
    // This machine has no Playwright download, so the fallback is Debian's chromium.
    expect(resolveChromium({})).toEqual({ executablePath: SYSTEM_CHROMIUM, source: "system" });
  });

  it("knows the Chromium the pinned Playwright expects", () => {
    expect(expectedChromium()).toEqual({ playwright: "1.64.1", chromium: expect.stringMatching(/^156\./) });
  });

  it("logs the version and source at launch, with no mismatch warning for a matching major", () => {
    expect(logs[0]).toMatch(/^info browser: Chromium 156\.[\d.]+ from system \(\/usr\/lib\/chromium\/chromium\)$/);
    expect(logs.filter((line) => line.includes("expects Chromium"))).toEqual([]);
  });
});

describe("the shared browser", () => {
  it("resolves no host name but 127.0.0.1, so a closed network fails fast", async () => {
    const result = await run({ name: "outside", steps: [{ action: "goto", url: "http://example.com/" }] });
    expect(result.error?.message).toContain("net::ERR_NAME_NOT_RESOLVED");
  });

  it("relaunches when the browser was killed between cases", async () => {
    await kill(await demo.browser.current());
    const result = await run({
      name: "after a crash",
      steps: [
        { action: "goto", url: "/" },
        { action: "expectTitle", title: "Home · Flightcheck Demo" },
      ],
    });
    expect(result.status).toBe("COMPLETED");
    expect(logs).toContain("warn browser: disconnected; the next case relaunches it");
    expect(logs.filter((line) => line.startsWith("info browser: Chromium"))).toHaveLength(2);
  });

  it("fails a case whose browser dies mid-step as retryable", async () => {
    let waiting!: () => void;
    const stepOneStarted = new Promise<void>((resolve) => (waiting = resolve));
    const running = runCase(
      demo.browser,
      {
        case: caseSchema.parse({
          name: "dies",
          steps: [
            { action: "goto", url: "/slow-widget?ms=5000" },
            { action: "waitFor", target: { testId: "widget" } },
          ],
        }),
        baseUrl: demo.site.url,
      },
      { ...noTokens, onStep: (event) => event.index === 1 && event.status === "RUNNING" && waiting() },
    );
    await stepOneStarted;
    await kill(await demo.browser.current());
    const result = await running;
    expect(result).toMatchObject({ status: "FAILED", retryable: true, error: { stepIndex: 1 } });
    expect(result.error?.message).toContain('steps[1] waitFor testId="widget": the browser crashed or disconnected');
    expect((await run({ name: "again", steps: [{ action: "goto", url: "/about" }] })).status).toBe("COMPLETED");
  });
});
