/**
 * A repository's dependencies, installed the way CI would: `npm ci` from its lockfile, with no lifecycle
 * scripts unless the suite opts in, under a time cap, and refused past a size cap. Installs are cached by the
 * lockfile's hash (and the Node major): a warm suite run links the cached `node_modules` into its working
 * folder instead of installing again. With scripts on, the install runs in the repository itself, uncached
 * (scripts may read any file of it).
 */
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { copyFile, lstat, mkdir, readdir, readFile, rename, rm, symlink } from "node:fs/promises";
import { join } from "node:path";

export interface InstallOptions {
  /** Where cached installs live, one folder per lockfile hash. */
  cacheDir: string;
  scripts: boolean;
  timeoutMs: number;
  maxBytes: number;
  /** The environment npm runs with (no executor secrets). */
  env: Record<string, string>;
}

export interface InstallResult {
  cache: "hit" | "miss" | "uncached" | "no lockfile";
  durationMs: number;
}

/** `npm ci` failed, took too long or installed too much: the message is what a person fixes it from. */
export class InstallFailed extends Error {
  override name = "InstallFailed";
}

const LOCKFILES = ["npm-shrinkwrap.json", "package-lock.json"];
const DONE_MARKER = ".flightcheck-complete";
const OUTPUT_TAIL_CHARS = 2_000;

/**
 * What npm needs beyond the browser's minimal environment: how to reach the registry (CA bundles, proxies, npm's
 * own settings). Never the executor's secrets; lifecycle scripts, when a suite opts in, see this too.
 */
const NPM_ENV = /^(npm_config_|NODE_EXTRA_CA_CERTS$|SSL_CERT_(FILE|DIR)$|(HTTPS?|NO)_PROXY$)/i;

export function installEnvironment(env: NodeJS.ProcessEnv, base: Record<string, string>): Record<string, string> {
  const kept = { ...base };
  for (const [name, value] of Object.entries(env)) if (value !== undefined && NPM_ENV.test(name)) kept[name] = value;
  return kept;
}

export async function installDependencies(dir: string, options: InstallOptions): Promise<InstallResult> {
  const started = performance.now();
  const lockfile = LOCKFILES.find((name) => existsSync(join(dir, name)));
  const elapsed = () => Math.round(performance.now() - started);
  if (!lockfile || !existsSync(join(dir, "package.json"))) return { cache: "no lockfile", durationMs: elapsed() };
  if (options.scripts) {
    await npmCi(dir, options);
    await refuseOversize(join(dir, "node_modules"), options.maxBytes);
    return { cache: "uncached", durationMs: elapsed() };
  }
  const hash = createHash("sha256")
    .update(await readFile(join(dir, lockfile)))
    .update(await readFile(join(dir, "package.json")))
    .update(`node ${process.versions.node.split(".")[0]}`)
    .digest("hex")
    .slice(0, 32);
  const cached = join(options.cacheDir, hash);
  let cache: InstallResult["cache"] = "hit";
  if (!existsSync(join(cached, DONE_MARKER))) {
    cache = "miss";
    // Installed aside, then renamed into place: a half-done install is never linked, and two runs may race.
    const staging = `${cached}.${randomBytes(4).toString("hex")}`;
    await mkdir(staging, { recursive: true });
    try {
      await Promise.all([
        copyFile(join(dir, lockfile), join(staging, lockfile)),
        copyFile(join(dir, "package.json"), join(staging, "package.json")),
      ]);
      await npmCi(staging, options);
      await refuseOversize(join(staging, "node_modules"), options.maxBytes);
      await mkdir(join(staging, DONE_MARKER));
      await rename(staging, cached).catch(() => undefined); // another run installed the same lockfile first
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  }
  await rm(join(dir, "node_modules"), { recursive: true, force: true });
  await symlink(join(cached, "node_modules"), join(dir, "node_modules"), "dir");
  return { cache, durationMs: elapsed() };
}

function npmCi(dir: string, { scripts, timeoutMs, env }: InstallOptions): Promise<void> {
  const args = ["ci", "--no-audit", "--no-fund", "--prefer-offline", ...(scripts ? [] : ["--ignore-scripts"])];
  return new Promise((resolve, reject) => {
    const child = spawn("npm", args, { cwd: dir, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
    let output = "";
    const keep = (chunk: Buffer) => (output = (output + chunk.toString("utf8")).slice(-OUTPUT_TAIL_CHARS));
    child.stdout.on("data", keep);
    child.stderr.on("data", keep);
    const timer = setTimeout(() => {
      killGroup(child.pid);
      reject(new InstallFailed(`npm ci took longer than ${timeoutMs / 1000} s and was stopped`));
    }, timeoutMs);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(new InstallFailed(`npm ci could not start: ${error.message}`));
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new InstallFailed(`npm ci failed (exit ${code}):\n${output.trim()}`));
    });
  });
}

/** Stops a process started `detached` and everything it started. */
export function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    // already gone
  }
}

async function refuseOversize(dir: string, maxBytes: number): Promise<void> {
  const size = await sizeOf(dir, maxBytes);
  if (size > maxBytes)
    throw new InstallFailed(`the installed dependencies are over ${Math.round(maxBytes / 1024 / 1024)} MiB`);
}

/** Bytes under `dir` (symlinks not followed), stopping early once past `stopAt`. */
async function sizeOf(dir: string, stopAt: number): Promise<number> {
  let total = 0;
  const pending = [dir];
  while (pending.length > 0 && total <= stopAt) {
    const current = pending.pop()!;
    for (const entry of await readdir(current, { withFileTypes: true }).catch(() => [])) {
      const path = join(current, entry.name);
      if (entry.isDirectory()) pending.push(path);
      else if (entry.isFile()) total += (await lstat(path)).size;
    }
  }
  return total;
}
