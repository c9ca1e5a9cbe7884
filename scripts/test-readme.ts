/**
 * `npm run test:readme`: the README's set-up as a new user runs it, from a fresh clone of HEAD in a temporary
 * folder. It reads the commands from the README's "Two commands" block, then checks that
 *   1. `npm ci` alone brings a browser and says which one in one line;
 *   2. where no browser can be had (here: every browser hidden in a private mount namespace, when run as root),
 *      `npm test` and `npm start` stop at once with one message saying what to do;
 *   3. with `--full`, `npm test` passes in the clone (CI runs the whole suite from a clean clone already, so it
 *      runs this script without `--full`).
 * Prints "N passed, N failed" and exits non-zero on any failure.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { SYSTEM_CHROMIUM } from "../executor/browser.ts";

const { values: flags } = parseArgs({
  options: { full: { type: "boolean", default: false }, keep: { type: "boolean", default: false } },
});
const root = resolve(import.meta.dirname, "..");
const results: { name: string; ok: boolean; detail: string }[] = [];
const check = (name: string, ok: boolean, detail: string) => {
  results.push({ name, ok, detail });
  console.log(`${ok ? "ok  " : "FAIL"} ${name} — ${detail}`);
};

/** The commands of the README's first ```sh block under "## Two commands", comments dropped. */
function readmeCommands(): string[] {
  const readme = readFileSync(join(root, "README.md"), "utf8");
  const block = /## Two commands\s+```sh\n([\s\S]*?)```/.exec(readme)?.[1];
  if (!block) throw new Error('README.md has no ```sh block under "## Two commands"');
  return block
    .split("\n")
    .map((line) => line.replace(/#.*/, "").trim())
    .filter(Boolean);
}

interface Outcome {
  code: number | null;
  output: string;
  seconds: number;
}

/** Runs a shell command in the clone, output captured and echoed, with a time limit. */
function sh(
  command: string,
  cwd: string,
  { env = process.env, timeoutMs }: { env?: NodeJS.ProcessEnv; timeoutMs: number },
): Promise<Outcome> {
  const started = Date.now();
  return new Promise((done) => {
    const child = spawn("sh", ["-c", command], { cwd, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    const collect = (chunk: Buffer) => {
      output += chunk;
      process.stdout.write(chunk.toString().replace(/^/gm, "    "));
    };
    child.stdout.on("data", collect);
    child.stderr.on("data", collect);
    const timer = setTimeout(() => process.kill(-child.pid!, "SIGKILL"), timeoutMs);
    child.once("exit", (code) => {
      clearTimeout(timer);
      try {
        process.kill(-child.pid!, "SIGKILL"); // anything it left behind (a stack that was starting)
      } catch {
        // Nothing left.
      }
      done({ code, output, seconds: (Date.now() - started) / 1000 });
    });
  });
}

/** The environment a new user has: no CHROMIUM_PATH of ours. */
const { CHROMIUM_PATH: _ignored, ...userEnv } = process.env;

/** Every place a browser could be found, hidden by empty bind mounts in a private mount namespace. */
function withoutBrowsers(command: string): string | undefined {
  const canHide =
    process.getuid?.() === 0 && spawnSync("unshare", ["-m", "--propagation", "private", "true"]).status === 0;
  if (!canHide) return undefined;
  const empty = mkdtempSync(join(tmpdir(), "flightcheck-no-browser-"));
  const hidden = [
    join(SYSTEM_CHROMIUM, ".."),
    process.env.PLAYWRIGHT_BROWSERS_PATH ?? join(homedir(), ".cache", "ms-playwright"),
  ];
  const mounts = hidden
    .filter((path) => existsSync(path))
    .map((path) => `mount --bind ${empty} ${path} && `)
    .join("");
  return `unshare -m --propagation private sh -c '${mounts}exec ${command}'`;
}

async function main(): Promise<void> {
  const commands = readmeCommands();
  for (const needed of ["npm ci", "npm test", "npm start"])
    check(`README names \`${needed}\``, commands.includes(needed), commands.join(" · "));

  const clone = mkdtempSync(join(tmpdir(), "flightcheck-readme-"));
  try {
    const cloned = spawnSync("git", ["clone", "--quiet", root, clone], { stdio: "inherit" });
    check("git clone of HEAD", cloned.status === 0, clone);

    console.log("$ npm ci");
    const install = await sh("npm ci", clone, { env: userEnv, timeoutMs: 15 * 60_000 });
    const browserLine = /flightcheck: browser: .*/.exec(install.output)?.[0] ?? "(no browser line)";
    check("npm ci", install.code === 0, `exit ${install.code} in ${install.seconds.toFixed(0)} s`);
    check("npm ci brings a browser and says which", /Chromium from /.test(browserLine), browserLine);

    for (const command of ["npm test", "npm start"]) {
      const hidden = withoutBrowsers(command);
      if (!hidden) {
        console.log(`skip ${command} without a browser — hiding the browser needs root and unshare`);
        continue;
      }
      console.log(`$ ${command}   (every browser hidden)`);
      const outcome = await sh(hidden, clone, { env: userEnv, timeoutMs: 120_000 });
      const said = outcome.output.includes("none was found") && outcome.output.includes("apt-get install chromium");
      check(
        `${command} without a browser stops at once, saying what to do`,
        outcome.code !== 0 && said && outcome.seconds < 60,
        `exit ${outcome.code} in ${outcome.seconds.toFixed(1)} s`,
      );
    }

    if (flags.full) {
      console.log("$ npm test");
      const test = await sh("npm test", clone, { env: userEnv, timeoutMs: 30 * 60_000 });
      check("npm test passes in the fresh clone", test.code === 0, `exit ${test.code} in ${test.seconds.toFixed(0)} s`);
    }
  } finally {
    if (!flags.keep) rmSync(clone, { recursive: true, force: true });
  }

  const failed = results.filter((result) => !result.ok).length;
  console.log(`${results.length - failed} passed, ${failed} failed`);
  process.exitCode = failed ? 1 : 0;
}

await main();
