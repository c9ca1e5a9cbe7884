/**
 * Which @playwright/test runs a repository's tests: the one it pins when its minor is the executor's (the
 * executor's Chromium pairs with one Playwright minor), otherwise the executor's own, lent to the repository so
 * that its tests and config load that one copy. The setup run's output says which, and what was pinned.
 */
import { existsSync, readFileSync } from "node:fs";
import { mkdir, readdir, realpath, rm, symlink, unlink } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";

export interface PlaywrightChoice {
  cli: string;
  version: string;
  from: "repository" | "executor";
  /** The version the repository pins, when the executor's ran instead. */
  pinned?: string;
}

const require = createRequire(import.meta.url);
/** The packages Playwright is made of: a test process must load exactly one copy of each. */
const PLAYWRIGHT_PACKAGES = ["@playwright/test", "playwright", "playwright-core"];

const minor = (version: string) => version.split(".").slice(0, 2).join(".");
const executorPackage = (name: string) => dirname(require.resolve(`${name}/package.json`));

export async function choosePlaywright(repoDir: string): Promise<PlaywrightChoice> {
  const own = require("@playwright/test/package.json") as { version: string };
  const executors = { cli: join(executorPackage("@playwright/test"), "cli.js"), version: own.version };
  const pinnedAt = join(repoDir, "node_modules", "@playwright", "test", "package.json");
  if (!existsSync(pinnedAt)) return { ...executors, from: "executor" };
  const { version } = JSON.parse(readFileSync(pinnedAt, "utf8")) as { version: string };
  if (minor(version) === minor(own.version))
    return { cli: join(dirname(pinnedAt), "cli.js"), version, from: "repository" };
  await lendExecutorPlaywright(join(repoDir, "node_modules"));
  return { ...executors, from: "executor", pinned: version };
}

/**
 * Points the repository's Playwright packages at the executor's. A node_modules linked into the install cache
 * becomes a folder of links to the cached packages first, so the cache stays as installed. Node loads a module
 * by its real path, so the tests, the config and the runner share the executor's one copy.
 */
async function lendExecutorPlaywright(modules: string): Promise<void> {
  const installed = await realpath(modules);
  if (installed !== resolve(modules)) {
    await unlink(modules);
    await linkEach(installed, modules);
  }
  for (const name of PLAYWRIGHT_PACKAGES) {
    const at = join(modules, name);
    await rm(at, { recursive: true, force: true });
    await mkdir(dirname(at), { recursive: true });
    await symlink(executorPackage(name), at, "dir");
  }
}

/** A folder of links to `from`'s entries, scopes (`@org/`) as folders of links too. */
async function linkEach(from: string, to: string): Promise<void> {
  await mkdir(to);
  for (const entry of await readdir(from, { withFileTypes: true })) {
    const source = join(from, entry.name);
    if (entry.isDirectory() && entry.name.startsWith("@")) await linkEach(source, join(to, entry.name));
    else await symlink(source, join(to, entry.name));
  }
}
