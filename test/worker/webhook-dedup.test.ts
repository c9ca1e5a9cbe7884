/**
 * Webhook dedup on what is signed: a delivery id and a signed body each start work once, a suite starts once
 * per head SHA and event, and a delivery claimed by a Worker that died is taken over after a grace period.
 */
import { sign } from "@octokit/webhooks-methods";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import * as controlPlane from "../../schema/control-plane.ts";
import { sha256Hex } from "../../schema/digest.ts";
import { UNFINISHED_DELIVERY_GRACE_MS } from "../../worker/github/webhooks.ts";
import { client, createTenant, randomSha, rowsInDatabases, siteUrl, withLegacyDatabase } from "./support.ts";

const SECRET = "webhook-dedup-secret";
const { webhookDeliveries } = controlPlane;

/** Changes a delivery's row behind the Worker's back, as a crash or the passing of time leaves it. */
const updateDelivery = (id: string, patch: Partial<typeof webhookDeliveries.$inferInsert>) =>
  withLegacyDatabase((db) => db.update(webhookDeliveries).set(patch).where(eq(webhookDeliveries.id, id)));

/** A tenant with a one-case suite on a repository of its own (suites are found by repository). */
async function suiteOnNewRepository() {
  const tenant = await createTenant();
  const installation = tenant.installation!;
  const repository = `${installation.account}/dedup-${crypto.randomUUID().slice(0, 8)}`;
  const api = client(tenant.apiKey, { GITHUB_WEBHOOK_SECRET: SECRET });
  const cases = [{ name: "home", steps: [{ action: "goto", url: "/ok" }] }];
  const suite = { name: "dedup", repository, baseUrl: siteUrl, triggers: ["pull_request", "deployment_status"], cases };
  expect((await api.json("POST", "/api/v1/suites", suite)).status).toBe(201);
  /** Delivers a signed body; the answer comes once the deferred work is done (the test's execution context). */
  const deliver = async (event: string, body: string, delivery = crypto.randomUUID()) => {
    const response = await api.request("POST", "/webhooks/github", body, {
      "x-github-event": event,
      "x-github-delivery": delivery,
      "x-hub-signature-256": await sign(SECRET, body),
    });
    return (await response.json()) as { accepted?: true; duplicate?: true };
  };
  const pullRequest = (sha: string, action = "opened") =>
    JSON.stringify({
      action,
      repository: { full_name: repository },
      installation: { id: installation.id },
      pull_request: { number: 4, head: { sha, ref: "topic" } },
    });
  const deployment = (sha: string, id: number) =>
    JSON.stringify({
      action: "created",
      repository: { full_name: repository },
      installation: { id: installation.id },
      deployment: { id, sha, ref: "topic" },
      // A public name: the egress policy refuses a private target URL (these runs are recorded, never executed).
      deployment_status: { state: "success", target_url: "https://preview.example.com/" },
    });
  const suiteRuns = async () => (await rowsInDatabases(tenant.environmentId)).batches;
  return { tenant, api, deliver, pullRequest, deployment, suiteRuns };
}

describe("POST /webhooks/github dedup", () => {
  it("starts one suite run for a signed body replayed under new delivery ids, at once and later", async () => {
    const { deliver, pullRequest, suiteRuns } = await suiteOnNewRepository();
    const body = pullRequest(randomSha());
    const answers = await Promise.all(Array.from({ length: 6 }, () => deliver("pull_request", body)));
    expect(answers.filter((answer) => answer.accepted)).toHaveLength(1);
    expect(answers.filter((answer) => answer.duplicate)).toHaveLength(5);
    expect(await deliver("pull_request", body)).toMatchObject({ duplicate: true });
    expect(await suiteRuns()).toBe(1);
  });

  it("starts a suite once per head SHA and event, whatever the delivery's other fields", async () => {
    const { deliver, pullRequest, suiteRuns } = await suiteOnNewRepository();
    const sha = randomSha();
    expect(await deliver("pull_request", pullRequest(sha, "opened"))).toMatchObject({ accepted: true });
    // A different signed body (another action) about the same commit is processed, but starts no second run.
    expect(await deliver("pull_request", pullRequest(sha, "reopened"))).toMatchObject({ accepted: true });
    expect(await suiteRuns()).toBe(1);
    expect(await deliver("pull_request", pullRequest(randomSha(), "synchronize"))).toMatchObject({ accepted: true });
    expect(await suiteRuns()).toBe(2);
  });

  it("runs again for a new deployment of the same commit, not for a replay of one", async () => {
    const { deliver, deployment, suiteRuns } = await suiteOnNewRepository();
    const sha = randomSha();
    expect(await deliver("deployment_status", deployment(sha, 1))).toMatchObject({ accepted: true });
    expect(await deliver("deployment_status", deployment(sha, 1))).toMatchObject({ duplicate: true });
    expect(await deliver("deployment_status", deployment(sha, 2))).toMatchObject({ accepted: true });
    expect(await suiteRuns()).toBe(2);
  });

  it("takes over a delivery claimed but never finished, once its grace period is over", async () => {
    const { deliver, pullRequest, suiteRuns } = await suiteOnNewRepository();
    const body = pullRequest(randomSha());
    const lost = crypto.randomUUID();
    // As a Worker that died after claiming the delivery leaves it: claimed, nothing started, never processed.
    const bodySha256 = await sha256Hex(body);
    const claim = { id: lost, event: "pull_request", action: "opened", bodySha256 };
    await withLegacyDatabase((db) => db.insert(webhookDeliveries).values(claim));
    expect(await deliver("pull_request", body)).toMatchObject({ duplicate: true }); // it may still be running
    expect(await deliver("pull_request", body, lost)).toMatchObject({ duplicate: true });
    expect(await suiteRuns()).toBe(0);

    const claimedAt = new Date(Date.now() - UNFINISHED_DELIVERY_GRACE_MS - 1_000);
    await updateDelivery(lost, { receivedAt: claimedAt });
    expect(await deliver("pull_request", body, lost)).toMatchObject({ accepted: true });
    expect(await suiteRuns()).toBe(1);
    const [row] = await withLegacyDatabase((db) =>
      db.select().from(webhookDeliveries).where(eq(webhookDeliveries.id, lost)),
    );
    expect(row?.processedAt).toBeInstanceOf(Date);
    expect(await deliver("pull_request", body)).toMatchObject({ duplicate: true });
  });

  it("reprocessing a delivery that died after starting its suite run starts no second one", async () => {
    const { deliver, pullRequest, suiteRuns } = await suiteOnNewRepository();
    const body = pullRequest(randomSha());
    const delivery = crypto.randomUUID();
    expect(await deliver("pull_request", body, delivery)).toMatchObject({ accepted: true });
    // As if the Worker had died after starting the suite run, before marking the delivery processed.
    const claimedAt = new Date(Date.now() - UNFINISHED_DELIVERY_GRACE_MS - 1_000);
    await updateDelivery(delivery, { processedAt: null, receivedAt: claimedAt });
    expect(await deliver("pull_request", body)).toMatchObject({ accepted: true });
    expect(await suiteRuns()).toBe(1);
  });

  it("re-runs on each check_run rerequest, but not on a replay of one", async () => {
    const { api, tenant, deliver, pullRequest, suiteRuns } = await suiteOnNewRepository();
    expect(await deliver("pull_request", pullRequest(randomSha()))).toMatchObject({ accepted: true });
    const rerequest = (batchId: string) =>
      JSON.stringify({
        action: "rerequested",
        installation: { id: tenant.installation!.id },
        check_run: { id: 1, external_id: batchId },
      });
    const first = (await api.json("GET", "/api/v1/runs")).body.data[0].batchId as string;
    expect(await deliver("check_run", rerequest(first))).toMatchObject({ accepted: true });
    expect(await deliver("check_run", rerequest(first))).toMatchObject({ duplicate: true });
    expect(await suiteRuns()).toBe(2);
    const runs = (await api.json("GET", "/api/v1/runs")).body.data as { batchId: string }[];
    const batches = new Set(runs.map((run) => run.batchId));
    const second = [...batches].find((id) => id !== first)!;
    expect(await deliver("check_run", rerequest(second))).toMatchObject({ accepted: true });
    expect(await suiteRuns()).toBe(3);
  });
});
