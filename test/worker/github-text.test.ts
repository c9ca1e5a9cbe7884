/** Text the Worker sends GitHub: names cut without splitting an emoji, and one rule for repository names. */
import { sign } from "@octokit/webhooks-methods";
import { describe, expect, it } from "vitest";
import { repositorySchema } from "../../schema/github.ts";
import { checkRunName } from "../../worker/runs/suite-runs.ts";
import { freshInstallation } from "../../scripts/seed.ts";
import { client, createTenant, siteUrl } from "./support.ts";

describe("text the Worker sends GitHub", () => {
  it("cuts a check run's name without splitting an emoji", () => {
    for (const pad of [86, 87]) {
      const name = checkRunName(`${"x".repeat(pad)}${"🙂".repeat(20)}`);
      expect(name.isWellFormed(), `padding ${pad}`).toBe(true);
      expect(name.length).toBeLessThanOrEqual(100);
      expect(name.length).toBeGreaterThanOrEqual(99);
    }
  });

  it("holds suites and webhooks to GitHub's rule for repository names", async () => {
    const secret = "github-text-secret";
    const accepted = ["acme-co/shop.js", `${"a".repeat(39)}/${"n".repeat(100)}`, "a/..x", "a/_"];
    const tenant = await createTenant(10, freshInstallation(accepted));
    const api = client(tenant.apiKey, { GITHUB_WEBHOOK_SECRET: secret });
    const cases = [{ name: "home", steps: [{ action: "goto", url: "/" }] }];
    const suite = (repository: string) => ({ name: repository, repository, baseUrl: siteUrl, cases });
    const tooLong = [`${"a".repeat(40)}/shop`, `acme/${"n".repeat(101)}`];
    const refused = ["acme_co/shop", ...tooLong, "acme/..", "acme/.", "acme/shop/x", "acme/shöp"];
    for (const repository of refused) {
      expect((await api.json("POST", "/api/v1/suites", suite(repository))).status, repository).toBe(422);
      expect(repositorySchema.safeParse(repository).success, repository).toBe(false);
    }
    for (const repository of accepted) {
      expect((await api.json("POST", "/api/v1/suites", suite(repository))).status, repository).toBe(201);
    }
    const body = JSON.stringify({
      action: "opened",
      repository: { full_name: "acme/.." },
      pull_request: { number: 1, head: { sha: "a".repeat(40), ref: "topic" } },
    });
    const headers = {
      "x-github-event": "pull_request",
      "x-github-delivery": crypto.randomUUID(),
      "x-hub-signature-256": await sign(secret, body),
    };
    expect((await api.request("POST", "/webhooks/github", body, headers)).status).toBe(422);
  });
});
