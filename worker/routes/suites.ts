/** Suites: cases bound to a repository (DESIGN §6, §8), and suite runs started by hand. */
import type { Context } from "hono";
import { Hono } from "hono/tiny";
import { createSuiteBodySchema, startSuiteRunBodySchema, updateSuiteBodySchema } from "../../schema/api.ts";
import { pageUrl } from "../pages/links.ts";
import { notFound, ProblemError } from "../problem.ts";
import { mintPublicAccessToken } from "../runs/tokens.ts";
import { parseFriendlyId, toFriendlyId } from "../store/ids.ts";
import type { SecretSealer, Suite } from "../store/suite-store.ts";
import { MAX_SECRETS } from "../../schema/spec-suites.ts";
import type { AppEnv } from "./context.ts";
import { limitBody, validate } from "./validate.ts";

const MAX_BODY_BYTES = 2 * 1024 * 1024;

const presentSuite = (suite: Suite) => ({
  id: toFriendlyId("suite", suite.id),
  name: suite.name,
  repository: suite.repository,
  baseUrl: suite.baseUrl,
  triggers: suite.triggers,
  ...(suite.source && { source: suite.source }),
  // Write-only: the names of the suite's secrets, never a value (not even a sealed one).
  secretNames: Object.keys(suite.secrets).sort(),
  cases: suite.cases.map((item) => ({ ...item.case, enabled: item.enabled })),
  createdAt: suite.createdAt.toISOString(),
  updatedAt: suite.updatedAt.toISOString(),
});

const suiteId = (param: string) => parseFriendlyId("suite", param).id;

/** Seals secrets under the Worker's key; the sealing code loads only when a request carries secrets. */
const sealerFor =
  (c: Context<AppEnv>): SecretSealer =>
  async (id, secrets) => {
    if (Object.keys(secrets).length === 0) return secrets;
    const { sealSecrets } = await import("../runs/secret-box.ts");
    return sealSecrets(c.var.config.SIGNING_SECRET, id, secrets);
  };

/** A patch may add secrets to those the suite has, up to the cap on them all. */
function requireRoomForSecrets(existing: Suite, patch: Record<string, string | null> = {}): void {
  const names = new Set(Object.keys(existing.secrets));
  for (const [name, value] of Object.entries(patch)) value === null ? names.delete(name) : names.add(name);
  if (names.size <= MAX_SECRETS) return;
  const detail = `A suite keeps at most ${MAX_SECRETS} secrets; this patch would leave it ${names.size}`;
  throw new ProblemError({
    status: 422,
    title: "Too many secrets",
    detail,
    errors: [{ path: ["secrets"], message: detail }],
  });
}

/**
 * A suite lives only on a repository its organisation's GitHub installation covers (DESIGN §11); else a 422
 * says why.
 */
async function requireCoveredRepository(c: Context<AppEnv>, repository: string): Promise<void> {
  const coverage = await c.var.stores.github.coverage(c.var.environment.organizationId, repository);
  if (coverage === "covered") return;
  const detail =
    coverage === "no installation"
      ? "No GitHub installation is bound to this organisation: install the App through GET /api/v1/github/install"
      : `${repository} is not covered by this organisation's GitHub installation: add it to the installation`;
  throw new ProblemError({
    status: 422,
    title: "Repository not covered",
    detail,
    errors: [{ path: ["repository"], message: detail }],
  });
}

export const suites = new Hono<AppEnv>()
  .post("/suites", limitBody(MAX_BODY_BYTES), validate("json", createSuiteBodySchema), async (c) => {
    const input = c.req.valid("json");
    await requireCoveredRepository(c, input.repository);
    const suite = await c.var.stores.suites.create(c.var.environment.environmentId, input, sealerFor(c));
    return c.json(presentSuite(suite), 201);
  })
  .get("/suites", async (c) => {
    const found = await c.var.stores.suites.list(c.var.environment.environmentId);
    return c.json({ data: found.map(presentSuite) });
  })
  .get("/suites/:suiteId", async (c) => {
    const suite = await c.var.stores.suites.find(c.var.environment.environmentId, suiteId(c.req.param("suiteId")));
    if (!suite) throw notFound("Suite");
    return c.json(presentSuite(suite));
  })
  .patch("/suites/:suiteId", limitBody(MAX_BODY_BYTES), validate("json", updateSuiteBodySchema), async (c) => {
    const { environmentId } = c.var.environment;
    const id = suiteId(c.req.param("suiteId"));
    const patch = c.req.valid("json");
    const existing = await c.var.stores.suites.find(environmentId, id);
    if (!existing) throw notFound("Suite");
    await requireCoveredRepository(c, patch.repository ?? existing.repository);
    requireRoomForSecrets(existing, patch.secrets);
    const suite = await c.var.stores.suites.update(environmentId, id, patch, sealerFor(c));
    if (!suite) throw notFound("Suite");
    return c.json(presentSuite(suite));
  })
  .delete("/suites/:suiteId", async (c) => {
    if (!(await c.var.stores.suites.delete(c.var.environment.environmentId, suiteId(c.req.param("suiteId")))))
      throw notFound("Suite");
    return c.body(null, 204);
  })
  .post("/suites/:suiteId/runs", limitBody(64 * 1024), validate("json", startSuiteRunBodySchema), async (c) => {
    const { environment } = c.var;
    const suite = await c.var.stores.suites.find(environment.environmentId, suiteId(c.req.param("suiteId")));
    if (!suite) throw notFound("Suite");
    const { sha, ref, baseUrl } = c.req.valid("json");
    const { record } = await c.var.engine.startSuiteRun(environment, suite, { headSha: sha, ref, baseUrl });
    const id = toFriendlyId("batch", record.batch.id);
    const { SIGNING_SECRET, PUBLIC_URL } = c.var.config;
    const [publicAccessToken, page] = await Promise.all([
      mintPublicAccessToken(SIGNING_SECRET, environment.environmentId, id),
      pageUrl(SIGNING_SECRET, PUBLIC_URL ?? new URL(c.req.url).origin, environment.environmentId, id),
    ]);
    return c.json(
      { id, runs: record.runs.map((run) => toFriendlyId("run", run.id)), publicAccessToken, pageUrl: page },
      201,
    );
  });
