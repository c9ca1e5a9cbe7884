/** `npm start`: the stack comes up, runs the bundled demo suite live, and prints a summary with the failure. */
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
