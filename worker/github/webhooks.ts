/**
 * `POST /webhooks/github` (DESIGN §6), loaded on first use: GitHub deliveries are rare next to API calls.
 * The signature is checked over the raw body, a delivery id (and a signed body) is processed once, and the
 * work (recording suite runs) happens after the answer: GitHub wants one within 10 s and retries nothing on
 * its own.
 */
import { verify } from "@octokit/webhooks-methods";
import type { Context } from "hono";
import * as z from "../../schema/zod.ts";
import type { SuiteTrigger } from "../../schema/api.ts";
import { sha256Hex } from "../../schema/digest.ts";
import { repositorySchema } from "../../schema/github.ts";
import { cutText } from "../../schema/storable.ts";
import { problemResponse } from "../problem.ts";
import type { AppEnv } from "../routes/context.ts";
import type { RunEngine, Stores } from "../runs/engine.ts";
import type { SuiteRunOrigin } from "../runs/suite-runs.ts";
import type { InstallationFacts } from "../store/github-store.ts";
import { parseFriendlyId } from "../store/ids.ts";
import { targetUrlRefusal } from "../../schema/egress.ts";

const ref = z.string().check(z.maxLength(300));
const repository = z.looseObject({ full_name: repositorySchema, default_branch: z.optional(ref) });
const installation = z.optional(z.looseObject({ id: z.int() }));
const sha = z.string().check(z.regex(/^[0-9a-f]{40}$/i));
const installationFacts = z.looseObject({
  id: z.int(),
  account: z.looseObject({ login: z.string().check(z.maxLength(100)), type: z.string().check(z.maxLength(100)) }),
  repository_selection: z.optional(z.enum(["all", "selected"])),
});
const repositoryList = z.array(z.looseObject({ full_name: ref })).check(z.maxLength(10_000));

const payloads = {
  pull_request: z.looseObject({
    action: z.string(),
    repository,
    installation,
    pull_request: z.looseObject({ number: z.int(), head: z.looseObject({ sha, ref }) }),
  }),
  push: z.looseObject({ ref, after: z.string(), deleted: z.optional(z.boolean()), repository, installation }),
  deployment_status: z.looseObject({
    action: z.optional(z.string()),
    repository,
    installation,
    deployment_status: z.looseObject({
      state: z.string(),
      target_url: z.nullish(z.string()),
      environment_url: z.nullish(z.string()),
    }),
    deployment: z.looseObject({ id: z.optional(z.int()), sha, ref }),
  }),
  check_run: z.looseObject({
    action: z.string(),
    installation,
    check_run: z.looseObject({ external_id: z.nullish(z.string()) }),
  }),
  installation: z.looseObject({
    action: z.string(),
    installation: installationFacts,
    repositories: z.nullish(repositoryList),
  }),
  installation_repositories: z.looseObject({
    action: z.string(),
    installation: installationFacts,
    repository_selection: z.optional(z.enum(["all", "selected"])),
    repositories_added: z._default(repositoryList, []),
    repositories_removed: z._default(repositoryList, []),
  }),
};

type Work = (scope: { engine: RunEngine; stores: Stores }) => Promise<unknown>;

/** A delivery claimed but not finished by then was lost with its Worker: a replay or redelivery takes it over. */
export const UNFINISHED_DELIVERY_GRACE_MS = 5 * 60_000;

/** What a delivery asks for, or undefined when it is not ours to act on. */
function workFor(
  event: string,
  delivery: string,
  body: unknown,
  egress: { allowPrivate: boolean },
): Work | undefined | "invalid" {
  if (!Object.hasOwn(payloads, event)) return undefined;
  const parsed = payloads[event as keyof typeof payloads].safeParse(body);
  if (!parsed.success) return "invalid";
  // biome-ignore lint/suspicious/noExplicitAny: each case below reads the fields its event's schema checked
  const payload = parsed.data as any;
  switch (event) {
    case "pull_request":
      if (!["opened", "synchronize", "reopened"].includes(payload.action)) return undefined;
      return startSuites(payload.repository.full_name, "pull_request", {
        headSha: payload.pull_request.head.sha,
        ref: payload.pull_request.head.ref,
        pullRequestNumber: payload.pull_request.number,
        installationId: payload.installation?.id,
        githubEvent: event,
      });
    case "push":
      if (
        payload.deleted ||
        !sha.safeParse(payload.after).success ||
        payload.ref !== `refs/heads/${payload.repository.default_branch}`
      )
        return undefined;
      return startSuites(payload.repository.full_name, "push", {
        headSha: payload.after,
        ref: payload.ref,
        installationId: payload.installation?.id,
        githubEvent: event,
      });
    case "deployment_status": {
      const baseUrl = payload.deployment_status.target_url || payload.deployment_status.environment_url;
      // Only an http(s) URL, and no private address in it (the executor checks again after DNS).
      if (payload.deployment_status.state !== "success" || !baseUrl) return undefined;
      if (targetUrlRefusal(baseUrl, egress)) return undefined;
      return startSuites(payload.repository.full_name, "deployment_status", {
        headSha: payload.deployment.sha,
        ref: payload.deployment.ref,
        baseUrl,
        installationId: payload.installation?.id,
        // A new deployment of the same commit (a redeployed preview) is worth another run; a replay is not.
        githubEvent: `${event}:${payload.deployment.id ?? ""}`,
      });
    }
    case "check_run":
      if (payload.action !== "rerequested" || !payload.check_run.external_id) return undefined;
      return rerunSuite(payload.check_run.external_id, payload.installation?.id, delivery);
    case "installation": {
      const facts = installationFactsOf(payload.installation, payload.installation.repository_selection);
      const names = payload.repositories?.map((repo: { full_name: string }) => repo.full_name);
      if (payload.action === "created") return ({ stores }) => stores.github.saveInstallation(facts, names);
      if (payload.action === "deleted") return ({ stores }) => stores.github.deleteInstallation(facts.id);
      if (payload.action === "suspend" || payload.action === "unsuspend") {
        return ({ stores }) => stores.github.suspendInstallation(facts.id, payload.action === "suspend");
      }
      return undefined;
    }
    case "installation_repositories": {
      const facts = installationFactsOf(payload.installation, payload.repository_selection);
      const names = (list: { full_name: string }[]) => list.map((repo) => repo.full_name);
      return ({ stores }) =>
        stores.github.changeRepositories(facts, names(payload.repositories_added), names(payload.repositories_removed));
    }
  }
  return undefined;
}

const installationFactsOf = (
  installation: z.infer<typeof installationFacts>,
  selection: "all" | "selected" | undefined,
): InstallationFacts => ({
  id: installation.id,
  accountLogin: installation.account.login,
  accountType: installation.account.type,
  repositorySelection: selection,
});

/**
 * Only the suites of the organisation the delivery's installation is bound to; a delivery from an unbound
 * (or suspended, or deleted) installation starts nothing. Each suite starts on its own: one that cannot
 * start (every case disabled, a store error) is logged and never stops the ones after it.
 */
const startSuites =
  (repositoryName: string, trigger: SuiteTrigger, origin: SuiteRunOrigin): Work =>
  async ({ engine, stores }) => {
    if (origin.installationId === undefined) return;
    const organizationId = await stores.github.organizationOf(origin.installationId);
    if (!organizationId) return;
    for (const suite of await stores.suites.findForRepository(organizationId, repositoryName, trigger)) {
      try {
        await engine.startSuiteRun(suite, suite, origin);
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        console.error(`suite ${suite.id} on ${repositoryName} did not start: ${reason}`);
      }
    }
  };

/**
 * A check run's "Re-run": the same suite on the same commit, as a new suite run with a new check run; only
 * when the delivery comes from the installation the suite run was started for. Each request is its own
 * delivery, so the delivery id keys it (a replay of its body is caught as a duplicate).
 */
const rerunSuite =
  (externalId: string, installationId: number | undefined, delivery: string): Work =>
  async ({ engine, stores }) => {
    const found = await stores.runs.loadBatch(parseFriendlyId("batch", externalId).id);
    if (!found?.suiteId || installationId === undefined || found.installationId !== installationId) return;
    const suite = await stores.suites.find(found.environmentId, found.suiteId);
    if (!suite) return;
    await engine.startSuiteRun(found, suite, {
      headSha: found.headSha ?? undefined,
      ref: found.ref ?? undefined,
      pullRequestNumber: found.pullRequestNumber ?? undefined,
      installationId: found.installationId ?? undefined,
      githubEvent: `check_run:${delivery}`,
    });
  };

async function validSignature(secret: string, body: string, signature: string | undefined): Promise<boolean> {
  if (!signature) return false;
  try {
    return await verify(secret, body, signature);
  } catch {
    return false; // the WebCrypto build throws on a signature that is not hex
  }
}

export async function handleWebhook(c: Context<AppEnv>): Promise<Response> {
  const secret = c.var.config.GITHUB_WEBHOOK_SECRET;
  if (!secret)
    return problemResponse({
      status: 503,
      title: "GitHub is not configured",
      detail: "GITHUB_WEBHOOK_SECRET is not set",
    });
  const body = await c.req.text();
  if (!(await validSignature(secret, body, c.req.header("x-hub-signature-256")))) {
    return problemResponse({
      status: 401,
      title: "Unauthorized",
      detail: "X-Hub-Signature-256 does not match the body",
    });
  }
  const event = c.req.header("x-github-event") ?? "";
  const delivery = c.req.header("x-github-delivery") ?? "";
  if (!/^[\w-]{1,100}$/.test(event) || !/^[\w-]{1,100}$/.test(delivery)) {
    return problemResponse({
      status: 400,
      title: "Bad delivery",
      detail: "X-GitHub-Event and X-GitHub-Delivery are required",
    });
  }
  let payload: unknown;
  try {
    payload = JSON.parse(body);
  } catch {
    return problemResponse({ status: 400, title: "Bad delivery", detail: "The body is not JSON" });
  }
  if (event === "ping") return c.json({ ok: true, event });
  const work = workFor(event, delivery, payload, { allowPrivate: c.var.config.ALLOW_PRIVATE_TARGETS });
  if (work === "invalid")
    return problemResponse({
      status: 422,
      title: "Unexpected payload",
      detail: `The ${event} payload is not shaped as GitHub sends it`,
    });
  if (!work) return c.json({ ignored: true, event }, 202);

  const { engine, stores } = c.var;
  const action = (payload as { action?: unknown }).action;
  const claimed = await stores.github.claimDelivery(
    {
      id: delivery,
      event,
      action: typeof action === "string" ? cutText(action, 100) : undefined,
      bodySha256: await sha256Hex(body),
    },
    new Date(Date.now() - UNFINISHED_DELIVERY_GRACE_MS),
  );
  if (!claimed) return c.json({ duplicate: true, delivery });
  engine.defer(
    work({ engine, stores }).then(
      () => stores.github.markProcessed(claimed),
      async (error) => {
        // Forget it, so GitHub's redelivery of it is processed rather than taken for a duplicate.
        await stores.github.forgetDelivery(claimed);
        throw error;
      },
    ),
  );
  return c.json({ accepted: true, delivery }, 202);
}
