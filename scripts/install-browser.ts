/**
 * `npm ci`'s postinstall: makes a Chromium that Playwright can drive available, and says in one line which one.
 *
 *   1. one already there (CHROMIUM_PATH, Playwright's own download, Debian's `chromium`): nothing to do;
 *   2. Playwright's own download (`playwright install chromium`), where its CDN can be reached;
 *   3. Debian's `chromium` package through apt-get, where this user may install packages (root, or sudo -n);
 *   4. otherwise it prints the command to run and leaves npm ci green: `npm test` and `npm start` then stop
 *      at once with the same advice (scripts/require-browser.ts).
 *
 * FLIGHTCHECK_SKIP_BROWSER=1 skips it (an image that brings its own browser, a Worker-only deploy).
 */
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { browserAdvice, findChromium } from "./require-browser.ts";

const say = (line: string) => console.log(`flightcheck: ${line}`);

function run(command: string, args: string[], timeoutMs: number): boolean {
  const result = spawnSync(command, args, {
    stdio: ["ignore", "ignore", "pipe"],
    timeout: timeoutMs,
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
  });
  return result.status === 0;
}

function viaPlaywright(): boolean {
  const cli = join(dirname(createRequire(import.meta.url).resolve("playwright/package.json")), "cli.js");
  return run(process.execPath, [cli, "install", "chromium"], 5 * 60_000);
}

function viaApt(): boolean {
  if (!run("sh", ["-c", "command -v apt-get"], 5_000)) return false;
  const asRoot = process.getuid?.() === 0;
  if (!asRoot && !run("sudo", ["-n", "true"], 5_000)) return false;
  const apt = (...args: string[]) =>
    asRoot ? run("apt-get", args, 10 * 60_000) : run("sudo", ["-n", "apt-get", ...args], 10 * 60_000);
  return apt("update", "-qq") && apt("install", "-y", "-qq", "--no-install-recommends", "chromium");
}

function main(): void {
  if (process.env.FLIGHTCHECK_SKIP_BROWSER === "1") return say("browser: skipped (FLIGHTCHECK_SKIP_BROWSER=1)");
  const found = findChromium();
  if (found) return say(`browser: Chromium from ${found.source} (${found.executablePath})`);

  say("browser: no Chromium found; trying Playwright's download…");
  let installed = viaPlaywright() ? findChromium() : undefined;
  if (!installed) {
    say("browser: Playwright's download failed; trying Debian's chromium package (apt-get)…");
    installed = viaApt() ? findChromium() : undefined;
  }
  if (installed) return say(`browser: installed Chromium from ${installed.source} (${installed.executablePath})`);
  say(`browser: none could be installed. ${browserAdvice()}`);
}

main();
