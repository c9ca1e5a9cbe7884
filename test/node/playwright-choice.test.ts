/**
 * Which Playwright runs a repository's tests (executor/specs/playwright-choice.ts): a repository that pins
 * another minor than the executor's still runs, on the executor's Playwright, with its own other dependencies,
 * and the install cache it was linked from stays as installed.
 */
import { spawnSync } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { choosePlaywright } from "../../executor/specs/playwright-choice.ts";

const OWN_VERSION = (createRequire(import.meta.url)("@playwright/test/package.json") as { version: string }).version;

let work: string;
let cache: string;
let repo: string;

/** A package in the install cache: its package.json and an index.js. */
async function cached(name: string, version: string, main = "module.exports = {};") {
  const dir = join(cache, name);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "package.json"), JSON.stringify({ name, version, main: "index.js" }));
  await writeFile(join(dir, "index.js"), main);
}

beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), "flightcheck-choice-"));
  cache = join(work, "cache", "node_modules");
  repo = join(work, "repo");
  await mkdir(join(repo, "tests"), { recursive: true });
  await writeFile(
    join(repo, "playwright.config.ts"),
    'import { defineConfig } from "@playwright/test";\nexport default defineConfig({ testDir: "tests" });\n',
  );
  await writeFile(
    join(repo, "tests", "pad.spec.ts"),
    'import { expect, test } from "@playwright/test";\nimport pad from "left-pad";\n' +
      'test("pads with the repository\'s own dependency", () => expect(pad("x")).toBe("padded x"));\n',
  );
  await cached("left-pad", "1.3.0", 'module.exports = (text) => "padded " + text;');
  await symlink(cache, join(repo, "node_modules"), "dir");
});
afterEach(() => rm(work, { recursive: true, force: true }));

describe("choosing the Playwright that runs a repository's tests", () => {
  it("runs the repository's own when it pins the executor's minor", async () => {
    const patch = `${OWN_VERSION.split(".").slice(0, 2).join(".")}.99`;
    await cached("@playwright/test", patch);
    expect(await choosePlaywright(repo)).toEqual({
      cli: join(repo, "node_modules", "@playwright", "test", "cli.js"),
      version: patch,
      from: "repository",
    });
  });

  it("lends the executor's to a repository pinning another minor, and the tests run on it", async () => {
    const wrongCopy = 'throw new Error("the pinned Playwright was loaded");';
    await cached("@playwright/test", "1.50.0", wrongCopy);
    await cached("playwright", "1.50.0", wrongCopy);
    const choice = await choosePlaywright(repo);
    expect(choice).toMatchObject({ version: OWN_VERSION, from: "executor", pinned: "1.50.0" });

    const run = spawnSync(process.execPath, [choice.cli, "test", "--reporter=line"], {
      cwd: repo,
      encoding: "utf8",
      env: { ...process.env, CI: "1" },
    });
    expect(run.stdout + run.stderr).toContain("1 passed");
    expect(run.status).toBe(0);
    // The install cache is as npm left it: the next repository with this lockfile gets its own pin.
    const pinned = JSON.parse(await readFile(join(cache, "@playwright", "test", "package.json"), "utf8"));
    expect(pinned.version).toBe("1.50.0");
    expect(dirname(choice.cli)).not.toContain(work);
  });
});
