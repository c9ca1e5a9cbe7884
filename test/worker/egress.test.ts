import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import worker from "../../worker/index.ts";

const WEBHOOK_SECRET = "egress-webhook-secret";

/** A signed deployment_status delivery, sent to a Worker with `settings` added to its own. */
async function deliverDeployment(targetUrl: string, settings: Record<string, string> = {}) {
  const body = JSON.stringify({
    action: "created",
    repository: { full_name: "egress/preview" },
    installation: { id: 1 },
    deployment: { sha: "a".repeat(40), ref: "main" },
    deployment_status: { state: "success", target_url: targetUrl },
  });
  const bytes = (text: string) => new TextEncoder().encode(text);
  const key = await crypto.subtle.importKey("raw", bytes(WEBHOOK_SECRET), { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, bytes(body)));
  const signature = Array.from(mac, (byte) => byte.toString(16).padStart(2, "0")).join("");
  const request = new Request("http://flightcheck/webhooks/github", {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-github-event": "deployment_status",
      "x-github-delivery": crypto.randomUUID(),
      "x-hub-signature-256": `sha256=${signature}`,
    },
    body,
  });
  const ctx = createExecutionContext();
  const response = await worker.fetch(request, { ...env, GITHUB_WEBHOOK_SECRET: WEBHOOK_SECRET, ...settings }, ctx);
  await waitOnExecutionContext(ctx);
  return { status: response.status, body: await response.json<Record<string, unknown>>() };
}

describe("a deployment's target_url", () => {
  it.each([
    "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.5/",
    "http://[::ffff:127.0.0.1]:8080/",
    "http://2130706433/",
    "http://metadata.google.internal/",
    "file:///etc/passwd",
  ])("%s starts nothing", async (targetUrl) => {
    const ignored = { status: 202, body: { ignored: true, event: "deployment_status" } };
    expect(await deliverDeployment(targetUrl)).toEqual(ignored);
  });

  it("may be a public name, or a private address when the deployment opts in", async () => {
    const accepted = { status: 202, body: { accepted: true } };
    expect(await deliverDeployment("https://preview.example.com/")).toMatchObject(accepted);
    const local = await deliverDeployment("http://127.0.0.1:3000/", { ALLOW_PRIVATE_TARGETS: "true" });
    expect(local).toMatchObject(accepted);
  });
});
