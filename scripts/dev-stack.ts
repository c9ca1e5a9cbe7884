/**
 * Runs `scripts/dev.ts` as a child on free ports and its own data folder, the way a person runs
 * `npm run dev`: for the end-to-end tests and the benchmarks.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./net.ts";

export interface DevState {
  apiUrl: string;
  apiKey: string;
  executorUrl: string;
  executorSecret: string;
  signingSecret: string;
  webhookSecret: string;
  databases: { legacy: string; runops: string };
  wsProxyUrl: string;
}

export interface DevStack {
  home: string;
  ports: { api: number; executor: number; postgres: number; proxy: number; demo: number };
  /** Starts the stack and resolves once it printed that it is up (dev.json is written by then). */
  start(...args: string[]): Promise<DevState>;
  /** Everything the stack printed so far. */
  output(): string;
  /** Ctrl-C: resolves with the exit code. */
  interrupt(): Promise<number | null>;
  /** Stops it if running and removes its data. */
  dispose(): Promise<void>;
}

const UP_TIMEOUT_MS = 240_000;
const PORT_TRIES = 3;
const PORT_TAKEN = /EADDRINUSE|address already in use/i;

class PortTaken extends Error {
  constructor(output: string) {
    super(`dev stack exited early, a port was taken:\n${output}`);
  }
}

async function freePorts() {
  const [api, executor, postgres, proxy, demo] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  return { api, executor, postgres, proxy, demo };
}

/** `env` is added to the stack's environment (e.g. a shorter HEARTBEAT_TIMEOUT_MS). */
export async function devStack({ env = {} }: { env?: Record<string, string> } = {}): Promise<DevStack> {
  const home = mkdtempSync(join(tmpdir(), "flightcheck-dev-"));
  chmodSync(home, 0o755); // the embedded server runs as the `postgres` user when we are root
  const ports = await freePorts();
  let child: ChildProcess | undefined;
  let output = "";

  const interrupt = async () => {
    if (!child || child.exitCode !== null) return child?.exitCode ?? null;
    const exited = new Promise<number | null>((resolve) => child!.once("exit", resolve));
    child.kill("SIGINT");
    return exited;
  };

  const launch = (args: string[]) => {
    child = spawn(process.execPath, ["scripts/dev.ts", ...args], {
      env: {
        ...process.env,
        ...env,
        FLIGHTCHECK_HOME: home,
        FLIGHTCHECK_API_PORT: String(ports.api),
        FLIGHTCHECK_EXECUTOR_PORT: String(ports.executor),
        FLIGHTCHECK_PG_PORT: String(ports.postgres),
        FLIGHTCHECK_PROXY_PORT: String(ports.proxy),
        FLIGHTCHECK_DEMO_PORT: String(ports.demo),
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    output = "";
    return new Promise<DevState>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`dev stack not up after ${UP_TIMEOUT_MS} ms:\n${output}`)),
        UP_TIMEOUT_MS,
      );
      const read = (chunk: Buffer) => {
        output += chunk;
        if (output.includes("stack up in")) {
          clearTimeout(timer);
          resolve(JSON.parse(readFileSync(join(home, "dev.json"), "utf8")) as DevState);
        }
      };
      child!.stdout!.on("data", read);
      child!.stderr!.on("data", read);
      child!.once("exit", () => {
        clearTimeout(timer);
        reject(PORT_TAKEN.test(output) ? new PortTaken(output) : new Error(`dev stack exited early:\n${output}`));
      });
    });
  };

  return {
    home,
    ports,
    interrupt,
    output: () => output,
    start: async (...args) => {
      for (let tries = 1; ; tries++) {
        try {
          return await launch(args);
        } catch (error) {
          // A port picked free can be taken by another process before the stack binds it (two suites at once).
          if (tries === PORT_TRIES || !(error instanceof PortTaken)) throw error;
          Object.assign(ports, await freePorts());
        }
      }
    },
    dispose: async () => {
      await interrupt();
      rmSync(home, { recursive: true, force: true });
    },
  };
}

/** Calls the stack's HTTP API as a client would (the dev key unless another is given): `{ status, body }`. */
export function apiClient(state: Pick<DevState, "apiUrl" | "apiKey">, apiKey = state.apiKey) {
  return async (method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> => {
    const response = await fetch(`${state.apiUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  };
}

/** `apiClient` for callers that only go on after a 2xx: the answer's body, or a throw naming the call. */
export function strictApiClient(state: Pick<DevState, "apiUrl" | "apiKey">, apiKey = state.apiKey) {
  const call = apiClient(state, apiKey);
  return async (method: string, path: string, body?: unknown): Promise<any> => {
    const { status, body: answer } = await call(method, path, body);
    if (status >= 300) throw new Error(`${method} ${path}: HTTP ${status} ${JSON.stringify(answer)}`);
    return answer;
  };
}
