/**
 * `npm run dev` as a person uses it: it comes up with both stores healthy, Ctrl-C stops every process it
 * started, a second start finds its data again, and --fresh starts over.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { connect as tcpConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { freePort } from "../../scripts/net.ts";

const home = mkdtempSync(join(tmpdir(), "flightcheck-dev-"));
chmodSync(home, 0o755); // the embedded server runs as the `postgres` user when we are root
const ports = { api: await freePort(), executor: await freePort(), postgres: await freePort(), proxy: await freePort() };

function startStack(...args: string[]): ChildProcess {
  return spawn(process.execPath, ["scripts/dev.ts", ...args], {
    env: {
      ...process.env,
      FLIGHTCHECK_HOME: home,
      FLIGHTCHECK_API_PORT: String(ports.api),
      FLIGHTCHECK_EXECUTOR_PORT: String(ports.executor),
      FLIGHTCHECK_PG_PORT: String(ports.postgres),
      FLIGHTCHECK_PROXY_PORT: String(ports.proxy),
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
}

/** Waits for the stack's "up" line (written after dev.json), then asks the API for its health. */
async function healthOf(stack: ChildProcess) {
  let output = "";
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`dev stack not up after 90 s:\n${output}`)), 90_000);
    const read = (chunk: Buffer) => {
      output += chunk;
      if (output.includes("stack up in")) (clearTimeout(timer), resolve());
    };
    stack.stdout!.on("data", read);
    stack.stderr!.on("data", read);
    stack.once("exit", () => reject(new Error(`dev stack exited early:\n${output}`)));
  });
  const devJson = JSON.parse(readFileSync(join(home, "dev.json"), "utf8")) as { apiKey: string; apiUrl: string };
  const health = await (await fetch(`${devJson.apiUrl}/healthz`)).json();
  return { devJson, health };
}

async function interrupt(stack: ChildProcess): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => stack.once("exit", resolve));
  stack.kill("SIGINT");
  return exited;
}

const listening = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = tcpConnect(port, "127.0.0.1");
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("error", () => resolve(false));
  });

/** Processes whose command line mentions the stack's data folder (postgres -D …, wrangler --persist-to …). */
function processesUsing(folder: string): string[] {
  return readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry) && Number(entry) !== process.pid)
    .map((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
      } catch {
        return "";
      }
    })
    .filter((command) => command.includes(folder));
}

afterAll(() => rmSync(home, { recursive: true, force: true }));

describe("npm run dev", () => {
  let firstKey = "";

  it("comes up with both stores healthy, and Ctrl-C stops every process it started", async () => {
    const stack = startStack();
    const { devJson, health } = await healthOf(stack);
    expect(health).toMatchObject({ ok: true, stores: { legacy: { status: "ok" }, new: { status: "ok" } } });
    expect(devJson.apiKey).toMatch(/^fc_dev_[0-9a-f]{48}$/);
    firstKey = devJson.apiKey;

    expect(await interrupt(stack)).toBe(0);
    for (const port of Object.values(ports)) expect(await listening(port)).toBe(false);
    expect(processesUsing(home)).toEqual([]);
  });

  it("starts again on the data it kept", async () => {
    const stack = startStack();
    const { devJson, health } = await healthOf(stack);
    expect(health).toMatchObject({ ok: true });
    expect(devJson.apiKey).toBe(firstKey);
    expect(await interrupt(stack)).toBe(0);
  });

  it("wipes its data with --fresh", async () => {
    const stack = startStack("--fresh");
    const { devJson, health } = await healthOf(stack);
    expect(health).toMatchObject({ ok: true });
    expect(devJson.apiKey).not.toBe(firstKey);
    expect(await interrupt(stack)).toBe(0);
  });
});
