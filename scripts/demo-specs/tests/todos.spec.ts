import { expect, test } from "@playwright/test";

test("a new todo is counted as open", async ({ page }, testInfo) => {
  await page.goto("/todos");
  await page.getByLabel("New todo").fill("Repot the fern");
  await page.getByRole("button", { name: "Add" }).click();
  // Flaky on purpose, to show the verdict: the first attempt expects a count the page never shows.
  await expect(page.getByTestId("todo-count")).toHaveText(testInfo.retry === 0 ? "3 open" : "2 open");
});
