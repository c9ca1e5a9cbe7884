/**
 * `npm run dev` as a person uses it: it comes up with both stores healthy, Ctrl-C stops every process it
 * started, a second start finds its data again, and --fresh starts over.
 */
import { readdirSync, readFileSync } from "node:fs";
import { connect as tcpConnect } from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { devStack } from "../../scripts/dev-stack.ts";

const stack = await devStack();
const { home, ports } = stack;

async function healthOf() {
  const devJson = await stack.start();
  const health = await (await fetch(`${devJson.apiUrl}/healthz`)).json();
  return { devJson, health };
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

afterAll(() => stack.dispose());

describe("npm run dev", () => {
  let firstKey = "";

  it("comes up with both stores healthy, and Ctrl-C stops every process it started", async () => {
    const { devJson, health } = await healthOf();
    expect(health).toMatchObject({ ok: true, stores: { legacy: { status: "ok" }, new: { status: "ok" } } });
    expect(devJson.apiKey).toMatch(/^fc_dev_[0-9a-f]{56}$/);
    firstKey = devJson.apiKey;

    expect(await stack.interrupt()).toBe(0);
    for (const port of Object.values(ports)) expect(await listening(port)).toBe(false);
    expect(processesUsing(home)).toEqual([]);
  });

  it("starts again on the data it kept", async () => {
    const { devJson, health } = await healthOf();
    expect(health).toMatchObject({ ok: true });
    expect(devJson.apiKey).toBe(firstKey);
    expect(await stack.interrupt()).toBe(0);
  });

  it("wipes its data with --fresh", async () => {
    const devJson = await stack.start("--fresh");
    expect(await (await fetch(`${devJson.apiUrl}/healthz`)).json()).toMatchObject({ ok: true });
    expect(devJson.apiKey).not.toBe(firstKey);
    expect(await stack.interrupt()).toBe(0);
  });
});
