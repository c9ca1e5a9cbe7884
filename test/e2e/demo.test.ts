/**
 * `npm start`: the stack comes up, runs the bundled demo suite live and prints a summary with the failure, then
 * runs the demo repository's Playwright tests from a pull request the same way, with the check run it ends in.
 */
import { afterAll, expect, it, vi } from "vitest";
import { devStack } from "../../scripts/dev-stack.ts";

const stack = await devStack();
afterAll(() => stack.dispose());

it("runs the demo suite and prints its progress and summary", async () => {
  await stack.start("--demo");
  await vi.waitFor(() => expect(stack.output()).toContain("demo: 3 passed, 1 failed"), {
    timeout: 240_000,
    interval: 250,
  });
  const output = stack.output();
  expect(output).toMatch(/✓ Signing in shows the dashboard: completed/);
  expect(output).toContain("tagline mentions free shipping");
  expect(output).toMatch(/screenshot: http:\/\/127\.0\.0\.1:\d+\/api\/v1\/runs\/run_\w+\/artifacts\/1\/failure\.png/);

  // The link it prints opens the suite run's page without an API key.
  const page = /the suite run's page: (http:\/\/127\.0\.0\.1:\d+\/runs\/batch_\w+\?token=\S+)/.exec(output)?.[1];
  expect(page).toBeDefined();
  const response = await fetch(page!);
  expect(response.status).toBe(200);
  const html = await response.text();
  expect(html).toContain("Signing in shows the dashboard");
  expect(html).toContain("tagline mentions free shipping");
});

it("runs the demo repository's Playwright tests from a pull request, live, flaky one and check included", async () => {
  await vi.waitFor(() => expect(stack.output()).toMatch(/demo: check run .*\n.*the suite run's page: /), {
    timeout: 240_000,
    interval: 250,
  });
  const output = stack.output().slice(stack.output().indexOf('demo: "Demo shop specs"'));
  // Each test as it starts and as it ends, named as Playwright names it.
  expect(output).toContain("… shop.spec.ts › signing in shows the dashboard: executing");
  expect(output).toContain("✓ shop.spec.ts › signing in shows the dashboard: completed");
  expect(output).toContain(
    "✓ todos.spec.ts › a new todo is counted as open — COMPLETED, flaky: failed, then passed on retry",
  );
  expect(output).toContain(
    "setup: download, install, start Playwright — COMPLETED, Playwright 1.64.1 (the executor's)",
  );
  expect(output).toMatch(/demo: 3 passed \(1 flaky on purpose\), 0 failed in \d+\.\d s/);
  expect(output).toMatch(/check run "flightcheck: Demo shop specs": success, 3 passed \(1 flaky\)/);

  const page = /the suite run's page: (http:\/\/127\.0\.0\.1:\d+\/runs\/batch_\w+\?token=\S+)/.exec(output)?.[1];
  const response = await fetch(page!);
  expect(response.status).toBe(200);
  expect(await response.text()).toContain("signing in shows the dashboard");
});
