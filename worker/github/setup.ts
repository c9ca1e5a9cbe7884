/**
 * Binding a GitHub App installation to an organisation (DESIGN §11), loaded on first use: installs are rare.
 *
 * `GET /api/v1/github/install` (secret key) answers the App's install link with a signed, expiring `state`
 * naming the caller's organisation. GitHub sends the installing person back to the App's setup URL,
 * `GET /github/setup?installation_id=…&state=…&code=…` ("Request user authorization (OAuth) during
 * installation" on): the state must be genuine, and the person's OAuth code must show them the installation
 * among their own (`GET /user/installations`), so a state of one organisation cannot bind an installation id
 * it merely guessed. An installation bound to another organisation is never moved.
 */
import type { Context } from "hono";
import * as z from "../../schema/zod.ts";
import type { Config } from "../config.ts";
import { ProblemError, problemResponse } from "../problem.ts";
import type { AppEnv } from "../routes/context.ts";
import { signToken, verifyToken } from "../runs/tokens.ts";
import type { InstallationFacts } from "../store/github-store.ts";

const STATE_TTL_SECONDS = 600;
/** Pages of 100 installations read from `GET /user/installations` before giving up. */
const MAX_INSTALLATION_PAGES = 10;

const setupQuerySchema = z.object({
  installation_id: z.pipe(
    z.string().check(z.regex(/^[1-9]\d{0,15}$/, "must be GitHub's installation id")),
    z.transform(Number),
  ),
  state: z.string().check(z.minLength(1), z.maxLength(2_000)),
  code: z.optional(z.string().check(z.minLength(1), z.maxLength(200))),
  setup_action: z.optional(z.string().check(z.maxLength(50))),
});

const tokenAnswerSchema = z.object({ access_token: z.string().check(z.minLength(1)) });
const installationsPageSchema = z.object({
  installations: z.array(
    z.looseObject({
      id: z.int(),
      account: z.looseObject({ login: z.string().check(z.maxLength(100)), type: z.string().check(z.maxLength(100)) }),
      repository_selection: z.enum(["all", "selected"]),
    }),
  ),
});

/** A path under a base URL that may carry a path of its own (GitHub Enterprise's `/api/v3`). */
const under = (base: string, path: string) => `${base.replace(/\/+$/, "")}${path}`;
const notConfigured = (detail: string) => problemResponse({ status: 503, title: "GitHub is not configured", detail });
const refused = (detail: string) => new ProblemError({ status: 403, title: "Installation not bound", detail });

export async function handleInstallLink(c: Context<AppEnv>): Promise<Response> {
  const { GITHUB_APP_SLUG, GITHUB_WEB_URL, SIGNING_SECRET } = c.var.config;
  if (!GITHUB_APP_SLUG) return notConfigured("GITHUB_APP_SLUG is not set");
  const { organizationId, environmentId } = c.var.environment;
  const state = await signToken(
    SIGNING_SECRET,
    { scope: "github-setup", sub: organizationId, env: environmentId },
    STATE_TTL_SECONDS,
  );
  const url = new URL(under(GITHUB_WEB_URL, `/apps/${GITHUB_APP_SLUG}/installations/new`));
  url.searchParams.set("state", state);
  return c.json({
    url: url.toString(),
    state,
    expiresAt: new Date(Date.now() + STATE_TTL_SECONDS * 1000).toISOString(),
  });
}

export async function handleSetup(c: Context<AppEnv>): Promise<Response> {
  const { GITHUB_CLIENT_ID, GITHUB_CLIENT_SECRET, SIGNING_SECRET } = c.var.config;
  const query = setupQuerySchema.safeParse(c.req.query());
  if (!query.success) {
    const first = query.error.issues[0];
    return problemResponse({
      status: 422,
      title: "Invalid request",
      detail: first && `${first.path.join(".")}: ${first.message}`,
      errors: query.error.issues,
    });
  }
  if (!GITHUB_CLIENT_ID || !GITHUB_CLIENT_SECRET)
    return notConfigured("GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET are needed to bind installations");
  const { installation_id: installationId, state, code } = query.data;
  const claims = await verifyToken(SIGNING_SECRET, state, "github-setup");
  if (!claims) throw refused("The state is not genuine or has expired: start again from the install link");
  if (!code) throw refused("No OAuth code: the App must request user authorization during installation");

  const userToken = await exchangeCode(c.var.config, code);
  const installation = await findUserInstallation(c.var.config, userToken, installationId);
  if (!installation)
    throw refused(`Installation ${installationId} is not among the installations the installing user can see`);
  if ((await c.var.stores.github.bindInstallation(installation, claims.sub)) === "taken") {
    return problemResponse({
      status: 409,
      title: "Installation already bound",
      detail: `Installation ${installationId} belongs to another organisation`,
    });
  }
  return c.json({ installationId, account: installation.accountLogin, bound: true });
}

async function callGitHub(url: URL, init: RequestInit): Promise<unknown> {
  let response: Response;
  try {
    response = await fetch(url, {
      ...init,
      headers: { accept: "application/json", "user-agent": "flightcheck", ...init.headers },
    });
  } catch {
    throw new ProblemError({ status: 502, title: "GitHub unreachable", detail: `${url.host} did not answer` });
  }
  const body: unknown = await response.json().catch(() => undefined);
  if (response.status === 401 || response.status === 403)
    throw refused("GitHub refused the installing user's authorization");
  if (!response.ok)
    throw new ProblemError({
      status: 502,
      title: "GitHub failed",
      detail: `${url.pathname} answered ${response.status}`,
    });
  return body;
}

/** The installing person's user token; GitHub answers a bad or used code with 200 and an `error` field. */
async function exchangeCode(config: Config, code: string): Promise<string> {
  const answer = await callGitHub(new URL(under(config.GITHUB_WEB_URL, "/login/oauth/access_token")), {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ client_id: config.GITHUB_CLIENT_ID, client_secret: config.GITHUB_CLIENT_SECRET, code }),
  });
  const parsed = tokenAnswerSchema.safeParse(answer);
  if (!parsed.success) throw refused("GitHub did not accept the OAuth code (bad, expired or already used)");
  return parsed.data.access_token;
}

async function findUserInstallation(
  config: Config,
  userToken: string,
  installationId: number,
): Promise<InstallationFacts | undefined> {
  for (let page = 1; page <= MAX_INSTALLATION_PAGES; page++) {
    const url = new URL(under(config.GITHUB_API_URL, "/user/installations"));
    url.searchParams.set("per_page", "100");
    url.searchParams.set("page", String(page));
    const parsed = installationsPageSchema.safeParse(
      await callGitHub(url, { headers: { authorization: `Bearer ${userToken}` } }),
    );
    if (!parsed.success)
      throw new ProblemError({
        status: 502,
        title: "GitHub failed",
        detail: "GET /user/installations answered an unexpected shape",
      });
    const found = parsed.data.installations.find((installation) => installation.id === installationId);
    if (found) {
      return {
        id: found.id,
        accountLogin: found.account.login,
        accountType: found.account.type,
        repositorySelection: found.repository_selection,
      };
    }
    if (parsed.data.installations.length < 100) return undefined;
  }
  return undefined;
}
