/**
 * The executor's one browser (DESIGN §7): which Chromium to run, how to launch it, and keeping it alive. Cases get
 * a fresh context each from `newContext()`, which relaunches the browser first if it crashed or was killed.
 */
import { accessSync, constants, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions } from "playwright";
import { type EgressPolicy, type EgressProxy, startEgressProxy } from "./egress.ts";

export const SYSTEM_CHROMIUM = "/usr/lib/chromium/chromium";
/** Chromium resolves no host name but 127.0.0.1: on a closed network it otherwise keeps looking up Google hosts. */
export const LOOPBACK_ONLY_HOST_RULES = "MAP * ~NOTFOUND , EXCLUDE 127.0.0.1";

/**
 * What Chromium may see of the executor's environment: what it needs to run and render, nothing else. The
 * executor's secrets (shared secret, GitHub App key) never reach a process that runs other people's pages.
 */
const BROWSER_ENV_NAMES = new Set(["PATH", "HOME", "TMPDIR", "LANG", "LANGUAGE", "TZ", "DISPLAY", "WAYLAND_DISPLAY"]);
const BROWSER_ENV_PREFIXES = ["LC_", "XDG_", "FONTCONFIG_"];

export function browserEnvironment(env: NodeJS.ProcessEnv): Record<string, string> {
  const needed = (name: string) =>
    BROWSER_ENV_NAMES.has(name) || BROWSER_ENV_PREFIXES.some((prefix) => name.startsWith(prefix));
  const kept: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) if (value !== undefined && needed(name)) kept[name] = value;
  return kept;
}

export type ChromiumSource = "CHROMIUM_PATH" | "playwright" | "system";

export interface ResolvedChromium {
  executablePath: string;
  source: ChromiumSource;
}

/** `CHROMIUM_PATH` if set and executable, else Playwright's own download, else Debian's `chromium` package. */
export function resolveChromium(env: NodeJS.ProcessEnv = process.env): ResolvedChromium {
  const fromEnv = env.CHROMIUM_PATH;
  if (fromEnv && isExecutable(fromEnv)) return { executablePath: fromEnv, source: "CHROMIUM_PATH" };
  const playwrights = chromium.executablePath();
  if (isExecutable(playwrights)) return { executablePath: playwrights, source: "playwright" };
  if (isExecutable(SYSTEM_CHROMIUM)) return { executablePath: SYSTEM_CHROMIUM, source: "system" };
  throw new Error(
    `No Chromium found: CHROMIUM_PATH is ${fromEnv ? `not executable (${fromEnv})` : "unset"}, Playwright's ` +
      `(${playwrights}) is not installed and ${SYSTEM_CHROMIUM} is missing. ` +
      "Set CHROMIUM_PATH or run `npx playwright install chromium`.",
  );
}

/** The Chromium version the installed Playwright was built against, from playwright-core's `browsers.json`. */
export function expectedChromium(): { playwright: string; chromium: string } {
  const require = createRequire(createRequire(import.meta.url).resolve("playwright/package.json"));
  const corePackage = require.resolve("playwright-core/package.json");
  const { version } = JSON.parse(readFileSync(corePackage, "utf8")) as { version: string };
  const { browsers } = JSON.parse(readFileSync(join(dirname(corePackage), "browsers.json"), "utf8")) as {
    browsers: { name: string; browserVersion?: string }[];
  };
  const entry = browsers.find((browser) => browser.name === "chromium");
  if (!entry?.browserVersion) throw new Error("playwright-core's browsers.json names no chromium version");
  return { playwright: version, chromium: entry.browserVersion };
}

export interface LaunchOptions {
  /** The executor's environment: where CHROMIUM_PATH is read, and what `browserEnvironment` picks from. */
  env?: NodeJS.ProcessEnv;
  /** What pages may reach (default: no private addresses); every request goes through an egress proxy. */
  egress?: EgressPolicy;
  /** Apply LOOPBACK_ONLY_HOST_RULES (default true). Turn off wherever the sites under test have real host names. */
  loopbackOnly?: boolean;
  /** Chromium's sandbox; it cannot run as root, so the default is on except for uid 0 (containers). */
  sandbox?: boolean;
  logger?: Pick<Console, "info" | "warn">;
}

export interface SharedBrowser {
  /** A fresh context on the live browser, relaunching it first if it died. */
  newContext(options?: BrowserContextOptions): Promise<BrowserContext>;
  /** Why the egress policy last refused a request, if it did at or after `since` (ms since the epoch). */
  refusalSince(since: number): string | undefined;
  /** The browser as of now (for inspection; it may be replaced by a relaunch). */
  current(): Promise<Browser>;
  close(): Promise<void>;
}

export async function launchSharedBrowser(options: LaunchOptions = {}): Promise<SharedBrowser> {
  const { env = process.env, egress = { allowPrivate: false }, loopbackOnly = true, logger = console } = options;
  const { sandbox = process.getuid?.() !== 0 } = options;
  let closed = false;
  const proxy: EgressProxy = await startEgressProxy(egress);

  const launch = async (): Promise<Browser> => {
    const { executablePath, source } = resolveChromium(env);
    if (env.CHROMIUM_PATH && source !== "CHROMIUM_PATH")
      logger.warn(`CHROMIUM_PATH ${env.CHROMIUM_PATH} is not executable; ignored`);
    const browser = await chromium.launch({
      // Playwright finds its own download by itself (and the production image relies on that).
      executablePath: source === "playwright" ? undefined : executablePath,
      headless: true,
      chromiumSandbox: sandbox,
      env: browserEnvironment(env),
      // Playwright also stops Chromium bypassing the proxy for loopback (`<-loopback>`).
      proxy: { server: proxy.url },
      args: [
        // WebRTC would otherwise send UDP around the proxy.
        "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
        ...(loopbackOnly ? [`--host-resolver-rules=${LOOPBACK_ONLY_HOST_RULES}`] : []),
      ],
    });
    const version = browser.version();
    logger.info(`browser: Chromium ${version} from ${source} (${executablePath})`);
    const expected = expectedChromium();
    if (major(version) !== major(expected.chromium)) {
      logger.warn(
        `browser: Playwright ${expected.playwright} expects Chromium ${expected.chromium}, running ${version}; ` +
          "expect protocol errors",
      );
    }
    browser.on("disconnected", () => {
      if (!closed) logger.warn("browser: disconnected; the next case relaunches it");
    });
    return browser;
  };

  let launching = launch();
  await launching.catch(async (error) => {
    await proxy.close();
    throw error;
  });

  /** The live browser; one relaunch shared by every caller that found it dead (or found the last launch failed). */
  const live = async (): Promise<Browser> => {
    const pending = launching;
    const browser = await pending.catch(() => undefined);
    if (browser?.isConnected()) return browser;
    if (closed) throw new Error("the shared browser was closed");
    if (launching === pending) launching = launch();
    return launching;
  };

  return {
    async newContext(contextOptions) {
      const browser = await live();
      try {
        return await browser.newContext(contextOptions);
      } catch (error) {
        // Died between the check and the call: one more try on a fresh browser.
        if (browser.isConnected()) throw error;
        return (await live()).newContext(contextOptions);
      }
    },
    refusalSince: proxy.refusalSince,
    current: live,
    async close() {
      closed = true;
      const browser = await launching.catch(() => undefined);
      await browser?.close();
      await proxy.close();
    },
  };
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

const major = (version: string) => version.split(".")[0];
