/** One shared Chromium and the demo site for a test file: started before its tests, closed after them. */
import { afterAll, beforeAll } from "vitest";
import { launchSharedBrowser, type LaunchOptions, type SharedBrowser } from "../../executor/browser.ts";
import { startDemoSite, type DemoSite } from "../../scripts/demo-site.ts";

export function useBrowserAndDemoSite(logger: LaunchOptions["logger"] = { info() {}, warn() {} }) {
  const fixture = {} as { browser: SharedBrowser; site: DemoSite };
  beforeAll(async () => {
    // The demo site listens on 127.0.0.1, a private address the egress policy refuses unless told otherwise.
    const launch = launchSharedBrowser({ logger, egress: { allowPrivate: true } });
    [fixture.browser, fixture.site] = await Promise.all([launch, startDemoSite()]);
  });
  afterAll(async () => {
    await Promise.all([fixture.browser?.close(), fixture.site?.close()]);
  });
  return fixture;
}
