/**
 * The egress policy (DESIGN §11) on real parts: Chromium through the executor's proxy, http-checks, and the
 * executor's endpoints. The machine has no network, so a "public" site is a local one reached by a made-up name
 * that an injected lookup maps to 127.0.0.1, with only that address counted as public in these tests.
 */
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchSharedBrowser, type SharedBrowser } from "../../executor/browser.ts";
import { loadExecutorConfig } from "../../executor/config.ts";
import { type EgressPolicy, startEgressProxy } from "../../executor/egress.ts";
import { MAX_BODY_BYTES, runHttpCheck } from "../../executor/http-check.ts";
import { runCase } from "../../executor/run-case.ts";
import { type ExecutorServer, startExecutorServer } from "../../executor/server.ts";
import { addressRefusal, targetUrlRefusal } from "../../schema/egress.ts";
import { caseSchema, type CaseInput } from "../../schema/steps.ts";
import { httpCheckPayloadSchema } from "../../schema/tasks.ts";
import { startSite } from "../support/site.ts";

const quiet = { info() {}, warn() {}, error() {} };
const noTokens = { waitForToken: async () => ({ ok: false, output: null }) };
const SECRETS = {
  GITHUB_PRIVATE_KEY: "-----BEGIN PRIVATE KEY-----secret",
  EXECUTOR_SHARED_SECRET: "executor-secret-0123456789",
};

/** Only in these tests: public.test is a "public" site on 127.0.0.1; rebind.test answers a public and a private one. */
const testPolicy: EgressPolicy = {
  allowPrivate: false,
  lookup: async (host) => ({ "public.test": ["127.0.0.1"], "rebind.test": ["203.0.113.7", "10.0.0.5"] })[host] ?? [],
  addressRefusal: (address) => (address === "127.0.0.1" ? undefined : addressRefusal(address)),
};

let site: Awaited<ReturnType<typeof startSite>>;
let port: string;
let strict: SharedBrowser;
let tested: SharedBrowser;
const saved = { ...process.env };

beforeAll(async () => {
  // The executor's own environment holds its secrets; the browser must not inherit them.
  Object.assign(process.env, SECRETS);
  site = await startSite();
  port = new URL(site.url).port;
  strict = await launchSharedBrowser({ logger: quiet, loopbackOnly: false });
  tested = await launchSharedBrowser({ logger: quiet, loopbackOnly: false, egress: testPolicy });
});
afterAll(async () => {
  process.env = saved;
  await Promise.all([strict?.close(), tested?.close(), site?.close()]);
});

const run = (browser: SharedBrowser, steps: CaseInput["steps"], baseUrl = site.url) =>
  runCase(browser, { case: caseSchema.parse({ name: "egress", steps }), baseUrl }, noTokens);

describe("the address policy", () => {
  it.each([
    ["127.0.0.1", "127.0.0.1 is a loopback address"],
    ["10.0.0.5", "10.0.0.5 is a private address"],
    ["172.16.9.1", "172.16.9.1 is a private address"],
    ["192.168.1.1", "192.168.1.1 is a private address"],
    ["100.64.0.1", "100.64.0.1 is a carrier-grade NAT address"],
    ["169.254.169.254", "169.254.169.254 is a link-local (cloud metadata) address"],
    ["0.0.0.0", "0.0.0.0 is an unspecified address"],
    ["255.255.255.255", "255.255.255.255 is a reserved or broadcast address"],
    ["224.0.0.251", "224.0.0.251 is a multicast address"],
    ["::1", "::1 is a loopback address"],
    ["::", ":: is an unspecified address"],
    ["fe80::1", "fe80::1 is a link-local address"],
    ["fd00:ec2::254", "fd00:ec2::254 is a unique-local address"],
    ["::ffff:127.0.0.1", "::ffff:127.0.0.1 is an IPv4-mapped loopback address"],
    ["::ffff:a9fe:a9fe", "::ffff:a9fe:a9fe is an IPv4-mapped link-local (cloud metadata) address"],
    ["64:ff9b::10.1.2.3", "64:ff9b::10.1.2.3 is a NAT64 private address"],
    ["ff02::1", "ff02::1 is a multicast address"],
  ])("refuses %s", (address, reason) => {
    expect(addressRefusal(address)).toBe(reason);
  });

  const publicAddresses = ["8.8.8.8", "172.32.0.1", "2606:4700::1111", "::ffff:8.8.8.8", "64:ff9b::1.1.1.1"];
  it.each(publicAddresses)("lets %s through", (address) => {
    expect(addressRefusal(address)).toBeUndefined();
  });

  it("checks a deployment's target_url for its scheme and a literal private host, however it is spelled", () => {
    const strictly = { allowPrivate: false };
    expect(targetUrlRefusal("https://preview.example.com/", strictly)).toBeUndefined();
    expect(targetUrlRefusal("http://0x7f.1:8080/", strictly)).toBe(
      "refused by egress policy: 127.0.0.1 is a loopback address",
    );
    expect(targetUrlRefusal("http://[::ffff:10.0.0.1]/", strictly)).toBe(
      "refused by egress policy: [::ffff:a00:1] is an IPv4-mapped private address",
    );
    expect(targetUrlRefusal("http://metadata.google.internal/", strictly)).toMatch(/metadata host name$/);
    expect(targetUrlRefusal("file:///etc/passwd", strictly)).toBe("file:///etc/passwd is not an http(s) URL");
    expect(targetUrlRefusal("http://127.0.0.1:3000/", { allowPrivate: true })).toBeUndefined();
  });
});

describe("browser cases", () => {
  it("refuse a loopback site by default", async () => {
    const result = await run(strict, [{ action: "goto", url: "/ok" }]);
    expect(result).toMatchObject({ status: "FAILED", retryable: false });
    expect(result.error?.message).toBe("steps[0] goto /ok: refused by egress policy: 127.0.0.1 is a loopback address");
  });

  it("refuse a public-looking name that resolves to loopback", async () => {
    const egress = { ...testPolicy, addressRefusal: undefined };
    const tricked = await launchSharedBrowser({ logger: quiet, loopbackOnly: false, egress });
    try {
      const result = await run(tricked, [{ action: "goto", url: `http://public.test:${port}/ok` }]);
      expect(result.error?.message).toContain(
        "refused by egress policy: 127.0.0.1 is a loopback address (resolved from public.test)",
      );
    } finally {
      await tricked.close();
    }
  });

  it("reach an allowed site, and refuse a redirect from it to a private address", async () => {
    const publicSite = `http://public.test:${port}`;
    const expectHello = { action: "expectText", target: "body", text: "hello from the site" } as const;
    const allowed = await run(tested, [{ action: "goto", url: "/ok" }, expectHello], publicSite);
    expect(allowed.status).toBe("COMPLETED");
    for (const [to, reason] of [
      ["http://10.0.0.5/", "10.0.0.5 is a private address"],
      [`http://[::ffff:127.0.0.1]:${port}/ok`, "::ffff:7f00:1 is an IPv4-mapped loopback address"],
      [
        "http://metadata.google.internal/computeMetadata/v1/",
        "metadata.google.internal is a local or cloud metadata host name",
      ],
    ]) {
      const result = await run(
        tested,
        [{ action: "goto", url: `/redirect?to=${encodeURIComponent(to!)}` }],
        publicSite,
      );
      expect(result).toMatchObject({ status: "FAILED", retryable: false });
      expect(result.error?.message).toContain(`refused by egress policy: ${reason}`);
    }
  });

  it("refuse a name whose answers include a private address (DNS rebinding), over HTTP and HTTPS", async () => {
    for (const url of ["http://rebind.test/", "https://rebind.test/", "https://169.254.169.254/latest/meta-data/"]) {
      const result = await run(tested, [{ action: "goto", url }]);
      expect(result.status).toBe("FAILED");
      const privateAfterRebind = /10\.0\.0\.5 is a private address \(resolved from rebind\.test\)/.source;
      const metadata = /169\.254\.169\.254 is a link-local/.source;
      expect(result.error?.message).toMatch(
        new RegExp(`refused by egress policy: (${privateAfterRebind}|${metadata})`),
      );
    }
  });

  it("refuse file:, chrome:, view-source:, data: and javascript: navigations before the browser", async () => {
    const schemes = ["file:///etc/passwd", "chrome://version", "view-source:http://public.test/", "data:text/html,hi"];
    for (const url of [...schemes, "javascript:alert(1)", "ftp://x/"]) {
      // Written in the case, refused when the case is saved; arriving through a template, refused by the step.
      expect(caseSchema.safeParse({ name: "scheme", steps: [{ action: "goto", url }] }).success).toBe(false);
      const hooks = { waitForToken: async () => ({ ok: true, output: { url } }) };
      const token = { action: "waitForToken", idempotencyKey: "k", timeoutMs: 1_000, saveAs: "next" } as const;
      const testCase = caseSchema.parse({ name: "scheme", steps: [token, { action: "goto", url: "{{next.url}}" }] });
      const result = await runCase(tested, { case: testCase, baseUrl: site.url }, hooks);
      expect(result.error?.message).toBe(
        `steps[1] goto {{next.url}}: ${url.split(":")[0]}: URLs are not allowed: ${url}`,
      );
    }
  });

  it("run Chromium without the executor's secrets in its environment", async () => {
    const browser = await tested.current();
    const session = await browser.newBrowserCDPSession();
    const { processInfo } = (await session.send("SystemInfo.getProcessInfo")) as {
      processInfo: { type: string; id: number }[];
    };
    await session.detach();
    const environ = (pid: number) => readFileSync(`/proc/${pid}/environ`, "utf8").split("\0");
    const main = processInfo.find((process) => process.type === "browser")!;
    expect(environ(main.id)).toContain(`PATH=${process.env.PATH}`);
    const secret = (entry: string) => Object.keys(SECRETS).some((name) => entry.startsWith(`${name}=`));
    for (const { id } of processInfo) expect(environ(id).filter(secret)).toEqual([]);
  });
});

describe("the egress proxy's tunnels (HTTPS, WebSockets)", () => {
  /** Sends `CONNECT target` and then `then` through the tunnel; everything the proxy answers, until it closes. */
  async function tunnel(proxyUrl: string, target: string, then = ""): Promise<string> {
    const socket = connect(Number(new URL(proxyUrl).port), "127.0.0.1");
    await once(socket, "connect");
    socket.write(`CONNECT ${target} HTTP/1.1\r\nhost: ${target}\r\n\r\n${then}`);
    let answer = "";
    socket.on("data", (chunk) => (answer += chunk));
    await once(socket, "close");
    return answer;
  }

  it("refuse a private target with the reason, and carry an allowed one", async () => {
    const proxy = await startEgressProxy(testPolicy);
    try {
      const refused = await tunnel(proxy.url, "10.0.0.5:443");
      expect(refused).toBe(
        "HTTP/1.1 403 Forbidden\r\n" +
          "x-flightcheck-egress-refused: refused by egress policy: 10.0.0.5 is a private address\r\n\r\n",
      );
      const request = "GET /ok HTTP/1.1\r\nhost: public.test\r\nconnection: close\r\n\r\n";
      const carried = await tunnel(proxy.url, `public.test:${port}`, request);
      expect(carried).toMatch(
        /^HTTP\/1.1 200 Connection Established\r\n\r\nHTTP\/1.1 200 OK\r\n[\s\S]*hello from the site under test/,
      );
    } finally {
      await proxy.close();
    }
  });
});

describe("http-checks", () => {
  const check = (url: string, extra: object = {}) => httpCheckPayloadSchema.parse({ url, ...extra });

  it("refuse a loopback site by default, and reach it when the deployment opts in", async () => {
    expect(await runHttpCheck(check(`${site.url}/ok`), { allowPrivate: false })).toEqual({
      ok: false,
      retryable: false,
      error: { message: "refused by egress policy: 127.0.0.1 is a loopback address" },
    });
    const optedIn = await runHttpCheck(check(`${site.url}/ok`), { allowPrivate: true });
    expect(optedIn).toMatchObject({ ok: true, output: { status: 200 } });
  });

  it("check every resolved address, and do not follow a redirect to a private one", async () => {
    expect(await runHttpCheck(check(`http://public.test:${port}/ok`), testPolicy)).toMatchObject({ ok: true });
    expect(await runHttpCheck(check(`http://rebind.test:${port}/ok`), testPolicy)).toMatchObject({
      ok: false,
      error: { message: "refused by egress policy: 10.0.0.5 is a private address (resolved from rebind.test)" },
    });
    const toPrivate = encodeURIComponent("http://10.0.0.5/");
    const redirect = check(`http://public.test:${port}/redirect?to=${toPrivate}`, { expectStatus: 302 });
    expect(await runHttpCheck(redirect, testPolicy)).toMatchObject({ ok: true, output: { status: 302 } });
  });

  it("read at most 1 MiB of the body, and say so", async () => {
    const big = check(`http://public.test:${port}/big?bytes=${3 * MAX_BODY_BYTES}`, { expectBodyContains: "END" });
    expect(await runHttpCheck(big, testPolicy)).toMatchObject({
      ok: false,
      error: {
        message:
          `Body does not contain "END" in its first ${MAX_BODY_BYTES} bytes ` +
          "(the body is larger; reading stopped there)",
      },
    });
    const small = check(`http://public.test:${port}/big?bytes=1000`, { expectBodyContains: "END" });
    expect(await runHttpCheck(small, testPolicy)).toMatchObject({ ok: true });
  });
});

describe("the executor's endpoints", () => {
  let executor: ExecutorServer;
  const secret = "egress-test-secret-0123456789";
  beforeAll(async () => {
    const settings = { PORT: "0", HOST: "127.0.0.1", EXECUTOR_SHARED_SECRET: secret, WORKER_URL: "http://127.0.0.1:9" };
    executor = await startExecutorServer(loadExecutorConfig(settings), quiet);
  });
  afterAll(() => executor?.close());

  const call = (method: string, path: string, authorization?: string, body?: unknown) =>
    fetch(`${executor.url}${path}`, {
      method,
      headers: { "content-type": "application/json", ...(authorization && { authorization }) },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });

  it("answer 401 without the shared secret, and /healthz only whether it is up", async () => {
    const endpoints = [
      ["POST", "/jobs"],
      ["POST", "/http-checks"],
      ["POST", "/github/check-runs"],
      ["GET", "/nope"],
    ] as const;
    for (const [method, path] of endpoints) {
      const body = method === "POST" ? {} : undefined;
      expect((await call(method, path, undefined, body)).status).toBe(401);
      expect((await call(method, path, "Bearer wrong-secret-0123456789", body)).status).toBe(401);
    }
    expect(await (await call("GET", "/healthz")).json()).toEqual({ ok: true });
    expect(await (await call("GET", "/healthz", `Bearer ${secret}`)).json()).toMatchObject({
      ok: true,
      pid: process.pid,
    });
  });

  it("run an http-check for the Worker under the egress policy", async () => {
    const answer = await call("POST", "/http-checks", `Bearer ${secret}`, { url: `${site.url}/ok` });
    expect(answer.status).toBe(200);
    const refused = { ok: false, error: { message: "refused by egress policy: 127.0.0.1 is a loopback address" } };
    expect(await answer.json()).toMatchObject(refused);
    expect((await call("POST", "/http-checks", `Bearer ${secret}`, { url: "file:///etc/passwd" })).status).toBe(422);
  });
});
