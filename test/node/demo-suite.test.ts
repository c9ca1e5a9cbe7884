import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchSharedBrowser, type SharedBrowser } from "../../executor/browser.ts";
import { runCase } from "../../executor/run-case.ts";
import { caseSchema } from "../../schema/steps.ts";
import { startDemoSite, type DemoSite } from "../../scripts/demo-site.ts";
import { demoSuite } from "../../scripts/demo-suite.ts";

let browser: SharedBrowser;
let site: DemoSite;
const quiet = { info() {}, warn() {} };

beforeAll(async () => {
  const options = { logger: quiet, egress: { allowPrivate: true } }; // the demo site listens on 127.0.0.1
  [browser, site] = await Promise.all([launchSharedBrowser(options), startDemoSite()]);
});
afterAll(async () => {
  await Promise.all([browser?.close(), site?.close()]);
});

describe("the demo suite against the demo site", () => {
  it("passes three cases and fails the one meant to fail, saying why", async () => {
    const results = [];
    for (const input of demoSuite.cases) {
      const result = await runCase(
        browser,
        { case: caseSchema.parse(input), baseUrl: site.url },
        { waitForToken: async () => ({ ok: false, output: null }) },
      );
      results.push({ name: input.name, ...result });
    }
    expect(results.map((result) => result.status)).toEqual(["COMPLETED", "COMPLETED", "COMPLETED", "FAILED"]);
    const failed = results[3]!;
    expect(failed.error?.stepIndex).toBe(1);
    expect(failed.error?.message).toContain('steps[1] expectText testId="tagline" ("tagline mentions free shipping")');
    expect(failed.error?.message).toContain('Expected substring: "Free shipping on every order"');
    expect(failed.error?.message).toContain('Received string:    "Plants, pots and everything in between."');
    expect(failed.retryable).toBe(false);
  });
});
