/**
 * The whole stack on one machine, no account, no network (DESIGN §9):
 * embedded PostgreSQL (`legacy` + `runops`) → WebSocket proxy → migrations → seeded tenant →
 * `wrangler dev` (Worker, RunDO and BatchDO, queues, cron) → executor. Ctrl-C stops everything it started.
 *
 *   npm run dev [-- --fresh]     data persists under .flightcheck/; --fresh wipes it first
 *   npm start                    the same, plus the demo site and the demo suites run live (--demo): a local
 *                                stand-in for GitHub serves the demo repository and takes its check runs
 *
 * Ports: FLIGHTCHECK_API_PORT (8787), FLIGHTCHECK_EXECUTOR_PORT (8788), FLIGHTCHECK_PG_PORT (55432),
 * FLIGHTCHECK_PROXY_PORT (55433), FLIGHTCHECK_DEMO_PORT (8789); FLIGHTCHECK_HOME moves the data folder.
 * The executor is restarted if it dies, as the container platform would.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { connect } from "../worker/store/database.ts";
import { runDemo, runSpecDemo } from "./demo.ts";
import { type FakeGitHub, generateAppKeyPair, startFakeGitHub } from "./local-github.ts";
import { browserAdvice, findChromium } from "./require-browser.ts";
import { startDemoSite } from "./demo-site.ts";
import { startLocalDatabases } from "./local-databases.ts";
import { freePort, waitForHttp } from "./net.ts";
import { DEV_INSTALLATION, seedTenant } from "./seed.ts";

const { values: flags } = parseArgs({
  options: { fresh: { type: "boolean", default: false }, demo: { type: "boolean", default: false } },
});
const home = resolve(process.env.FLIGHTCHECK_HOME ?? ".flightcheck");
const port = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const ports = {
  api: port("FLIGHTCHECK_API_PORT", 8787),
  executor: port("FLIGHTCHECK_EXECUTOR_PORT", 8788),
  postgres: port("FLIGHTCHECK_PG_PORT", 55432),
  proxy: port("FLIGHTCHECK_PROXY_PORT", 55433),
  demo: port("FLIGHTCHECK_DEMO_PORT", 8789),
};

interface DevState {
  apiUrl: string;
  apiKey: string;
  webhookSecret: string;
  executorUrl: string;
  executorSecret: string;
  signingSecret: string;
  databases: { legacy: string; runops: string };
  wsProxyUrl: string;
}

const started = Date.now();
const say = (line: string) => console.log(`[flightcheck] ${line}`);
const children: ChildProcess[] = [];
const cleanups: (() => Promise<void>)[] = [];
let stopping = false;

async function stop(code: number): Promise<never> {
  if (stopping) return new Promise(() => {});
  stopping = true;
  say("stopping…");
  await Promise.all(children.map(stopChild));
  for (const cleanup of cleanups.reverse()) await cleanup().catch((error) => console.error(error));
  process.exit(code);
}

/**
 * wrangler.toml changed for a reliability run or a benchmark, written beside the stack's state, its paths made
 * absolute: another per-key rate limit (API_KEY_RATE_LIMIT), or no consumer on run-dispatch (EXECUTION_PAUSED=true:
 * runs are recorded and dispatched, and their messages wait in the queue).
 */
function localConfig(perKeyLimit: string | undefined, executionPaused: boolean): string {
  if (perKeyLimit !== undefined && !/^\d+$/.test(perKeyLimit)) {
    throw new Error(`API_KEY_RATE_LIMIT must be a number, got ${perKeyLimit}`);
  }
  let config = readFileSync(resolve("wrangler.toml"), "utf8")
    .replace('main = "worker/index.ts"', `main = "${resolve("worker/index.ts")}"`)
    .replace('image = "./Dockerfile"', `image = "${resolve("Dockerfile")}"`)
    .replace('directory = "./static"', `directory = "${resolve("static")}"`);
  if (perKeyLimit !== undefined) {
    const limit = /(name = "API_KEY_RATE_LIMITER"\nnamespace_id = "\d+"\nsimple = \{ limit = )\d+/;
    config = config.replace(limit, `$1${perKeyLimit}`);
  }
  if (executionPaused) {
    const consumer = /\[\[queues\.consumers\]\]\nqueue = "run-dispatch"\n(?:[a-z_]+ = .*\n)*/;
    if (!consumer.test(config)) throw new Error("EXECUTION_PAUSED: no run-dispatch consumer in wrangler.toml");
    config = config.replace(consumer, "");
  }
  const file = join(home, "wrangler.toml");
  writeFileSync(file, config);
  return file;
}

/** Children run in their own process group, so wrangler's workerd goes down with it. */
function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((done) => {
    const kill = (signal: NodeJS.Signals) => {
      try {
        process.kill(-child.pid!, signal);
      } catch {
        // Already gone.
      }
    };
    const force = setTimeout(() => kill("SIGKILL"), 5_000);
    child.once("exit", () => {
      clearTimeout(force);
      kill("SIGKILL"); // anything left in the group
      done();
    });
    kill("SIGTERM");
  });
}

/**
 * Starts a child; if it dies, the stack stops. With `restartOnceUp`, a child that had printed that text (it
 * was up) is started again instead; one that dies before is failing to start, and the stack stops.
 */
function run(
  name: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  { restartOnceUp }: { restartOnceUp?: string } = {},
): ChildProcess {
  let up = false;
  const child = spawn(process.execPath, args, {
    env: { ...process.env, ...env },
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const prefix = (chunk: Buffer) =>
    chunk
      .toString()
      .split("\n")
      .filter((line) => line.trim())
      .map((line) => `[${name}] ${line}\n`)
      .join("");
  child.stdout!.on("data", (chunk: Buffer) => {
    if (restartOnceUp && chunk.includes(restartOnceUp)) up = true;
    process.stdout.write(prefix(chunk));
  });
  child.stderr!.on("data", (chunk: Buffer) => process.stderr.write(prefix(chunk)));
  child.once("exit", (code, signal) => {
    if (stopping) return;
    children.splice(children.indexOf(child), 1);
    if (up) {
      say(`${name} exited (${signal ?? code}); restarting it`);
      run(name, args, env, { restartOnceUp });
      return;
    }
    console.error(`[flightcheck] ${name} exited (${signal ?? code}); stopping the stack`);
    void stop(1);
  });
  children.push(child);
  return child;
}

function loadSecrets(): Partial<DevState> {
  const file = join(home, "dev.json");
  return existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as Partial<DevState>) : {};
}

const secret = () => randomBytes(24).toString("hex");

/** The demo's GitHub App: any App id, a key made for this start, the stand-in's address. */
const DEMO_APP_ID = "1";

/**
 * In demo mode, a local stand-in for GitHub (no account, no network) in place of any App the environment names:
 * it serves the demo repository's tarball and takes its check runs. Otherwise the environment's App, if any.
 */
async function gitHubApp(): Promise<{ github?: FakeGitHub; env: Record<string, string> }> {
  if (!flags.demo) {
    const names = ["GITHUB_APP_ID", "GITHUB_API_URL", "GITHUB_PRIVATE_KEY"] as const;
    return { env: Object.fromEntries(names.flatMap((name) => (process.env[name] ? [[name, process.env[name]]] : []))) };
  }
  const keys = generateAppKeyPair();
  const github = await startFakeGitHub({ appId: DEMO_APP_ID, publicKey: keys.publicKey });
  cleanups.push(() => github.close());
  say(`local GitHub stand-in ${github.url} (the demo repository and its check runs)`);
  return {
    github,
    env: { GITHUB_APP_ID: DEMO_APP_ID, GITHUB_API_URL: github.url, GITHUB_PRIVATE_KEY: keys.privateKey },
  };
}

async function main(): Promise<void> {
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => void stop(0));

  if (!findChromium()) {
    console.error(`[flightcheck] the executor needs Chromium and none was found. ${browserAdvice()}`);
    process.exit(1);
  }
  if (flags.fresh) rmSync(home, { recursive: true, force: true });
  mkdirSync(home, { recursive: true });
  const previous = loadSecrets();

  const databases = await startLocalDatabases({
    dataDir: join(home, "postgres"),
    postgresPort: ports.postgres,
    proxyPort: ports.proxy,
  });
  cleanups.push(() => databases.stop());
  const { urls, wsProxyUrl } = databases;
  say(`PostgreSQL ready on :${ports.postgres} (databases legacy, runops, migrated), proxy ${wsProxyUrl}`);

  const legacy = connect(urls.legacy, { wsProxy: wsProxyUrl });
  const tenant = await seedTenant(legacy.pool, { apiKey: previous.apiKey, installation: DEV_INSTALLATION });
  await legacy.close();
  say("dev tenant seeded");

  const app = await gitHubApp();
  const state: DevState = {
    apiUrl: `http://127.0.0.1:${ports.api}`,
    apiKey: tenant.apiKey,
    webhookSecret: previous.webhookSecret ?? secret(),
    executorUrl: `http://127.0.0.1:${ports.executor}`,
    executorSecret: previous.executorSecret ?? secret(),
    signingSecret: previous.signingSecret ?? secret(),
    databases: urls,
    wsProxyUrl,
  };

  // wrangler.toml's required secrets reach `wrangler dev` the way it expects them, from an env file (kept out of
  // the process list); everything else is a plain --var.
  const secretsFile = join(home, "dev.vars");
  const workerSecrets = {
    LEGACY_DATABASE_URL: urls.legacy,
    RUNOPS_DATABASE_URL: urls.runops,
    EXECUTOR_SHARED_SECRET: state.executorSecret,
    SIGNING_SECRET: state.signingSecret,
  };
  writeFileSync(
    secretsFile,
    Object.entries(workerSecrets)
      .map(([key, value]) => `${key}=${value}\n`)
      .join(""),
    { mode: 0o600 },
  );
  const workerEnv = {
    // On unless a benchmark measures the split off (every run in legacy, beside the admissions ledger).
    RUN_OPS_SPLIT_ENABLED: process.env.RUN_OPS_SPLIT_ENABLED === "false" ? "false" : "true",
    DATABASE_WS_PROXY: wsProxyUrl,
    // The embedded server on a busy laptop can take seconds to fork a backend; Neon's default is 5 s.
    DATABASE_CONNECT_TIMEOUT_MS: "60000",
    EXECUTOR_URL: state.executorUrl,
    GITHUB_WEBHOOK_SECRET: state.webhookSecret,
    PUBLIC_URL: state.apiUrl,
    // The sites under test are local: the egress policy lets browsers, http-checks and deployments reach them.
    ALLOW_PRIVATE_TARGETS: "true",
    // A GitHub App (or a local stand-in for GitHub); the private key stays with the executor, which posts the
    // check runs.
    ...(app.env.GITHUB_APP_ID && { GITHUB_APP_ID: app.env.GITHUB_APP_ID }),
    ...(app.env.GITHUB_API_URL && { GITHUB_API_URL: app.env.GITHUB_API_URL }),
    // The App's install link and setup URL (binding installations to organisations), when the environment names them.
    ...Object.fromEntries(
      ["GITHUB_WEB_URL", "GITHUB_APP_SLUG", "GITHUB_CLIENT_ID", "GITHUB_CLIENT_SECRET"].flatMap((name) =>
        process.env[name] ? [[name, process.env[name]]] : [],
      ),
    ),
    // Tests and benchmarks shorten the heartbeat deadline to see a dead executor within seconds.
    ...(process.env.HEARTBEAT_TIMEOUT_MS && { HEARTBEAT_TIMEOUT_MS: process.env.HEARTBEAT_TIMEOUT_MS }),
    // The benchmarks' reference routes (POST /bench/floor).
    ...(process.env.BENCH_ROUTES === "true" && { BENCH_ROUTES: "true" }),
  };

  run(
    "executor",
    ["executor/main.ts"],
    {
      PORT: String(ports.executor),
      HOST: "127.0.0.1",
      EXECUTOR_SHARED_SECRET: state.executorSecret,
      WORKER_URL: state.apiUrl,
      // The sites under test are local: Chromium resolves nothing else (and stops calling home).
      BROWSER_LOOPBACK_ONLY: "true",
      ALLOW_PRIVATE_TARGETS: "true",
      // The local stack runs its own fixture repositories' tests; a shared executor needs a per-run sandbox first.
      RUN_REPOSITORY_CODE: "true",
      ...app.env,
    },
    { restartOnceUp: "executor listening" },
  );
  // A reliability run lowers the per-key rate limit to reach it, a benchmark pauses execution: a copy of wrangler.toml.
  const executionPaused = process.env.EXECUTION_PAUSED === "true";
  const perKeyLimit = process.env.API_KEY_RATE_LIMIT || undefined;
  const configArgs = perKeyLimit || executionPaused ? ["--config", localConfig(perKeyLimit, executionPaused)] : [];
  const wranglerPackage = createRequire(import.meta.url).resolve("wrangler/package.json");
  const wrangler = join(dirname(wranglerPackage), "bin", "wrangler.js");
  run(
    "worker",
    [
      wrangler,
      "dev",
      ...configArgs,
      "--ip",
      "127.0.0.1",
      "--port",
      String(ports.api),
      "--inspector-port",
      String(await freePort()),
      "--env-file",
      secretsFile,
      ...Object.entries(workerEnv).flatMap(([key, value]) => ["--var", `${key}:${value}`]),
      "--persist-to",
      join(home, "wrangler"),
      "--show-interactive-dev-session=false",
      // The demo's progress is the interesting output: wrangler's request log would bury it.
      ...(flags.demo ? ["--log-level", "warn"] : []),
    ],
    { WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" },
  );

  // Generous deadlines: a busy machine starts slowly, and a child that fails to start stops the stack at once.
  await waitForHttp(`${state.executorUrl}/healthz`, 180_000);
  await waitForHttp(`${state.apiUrl}/healthz`, 180_000);
  writeFileSync(join(home, "dev.json"), `${JSON.stringify(state, null, 2)}\n`);

  say(`stack up in ${((Date.now() - started) / 1000).toFixed(1)} s — details in ${join(home, "dev.json")}`);
  say(`API      ${state.apiUrl}`);
  say(`API key  ${state.apiKey}`);
  say(`try:     curl -s ${state.apiUrl}/healthz`);
  say("Ctrl-C stops everything.");

  // wrangler dev does not fire cron triggers: fire the sweep every minute, as Cloudflare would.
  const cron = setInterval(() => void fetch(`${state.apiUrl}/cdn-cgi/local/scheduled`).catch(() => {}), 60_000);
  cleanups.push(async () => clearInterval(cron));

  if (flags.demo) {
    const site = await startDemoSite({ port: ports.demo });
    cleanups.push(() => site.close());
    say(`demo site ${site.url}`);
    await runDemo(state, site.url, say);
    await runSpecDemo(state, app.github!, site.url, say);
    say("the stack keeps running; Ctrl-C stops everything.");
  }
}

main().catch(async (error) => {
  console.error(`[flightcheck] ${error instanceof Error ? error.message : String(error)}`);
  await stop(1);
});
