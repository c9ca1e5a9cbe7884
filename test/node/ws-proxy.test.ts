import { Client, neonConfig } from "@neondatabase/serverless";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import WebSocket from "ws";
import { parseTarget, startWsProxy, type WsProxy } from "../../scripts/ws-proxy.ts";

describe("WebSocket→TCP proxy", () => {
  let proxy: WsProxy;
  beforeAll(async () => {
    proxy = await startWsProxy();
    neonConfig.webSocketConstructor = WebSocket;
    neonConfig.wsProxy = (host, port) => `${proxy.url.slice("ws://".length)}/v2?address=${host}:${port}`;
    neonConfig.useSecureWebSocket = false;
    neonConfig.pipelineTLS = false;
    neonConfig.pipelineConnect = "password";
  });
  afterAll(() => proxy.close());

  /** One client session: connect, run `work`, end (or drop the socket without a goodbye). */
  async function session<T>(work: (client: Client) => Promise<T>, { drop = false } = {}): Promise<T> {
    const client = new Client(inject("legacyDatabaseUrl"));
    client.on("error", () => {});
    await client.connect();
    try {
      return await work(client);
    } finally {
      if (drop) (client as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
      else await client.end();
    }
  }
  const pid = (client: Client) => client.query("select pg_backend_pid() as pid").then((r) => r.rows[0].pid as number);
  const settle = () => new Promise((resolve) => setTimeout(resolve, 50));

  it("only forwards to loopback addresses", () => {
    expect(parseTarget("/v2?address=127.0.0.1:5432")).toEqual({ host: "127.0.0.1", port: 5432 });
    expect(parseTarget("/v2?address=[::1]:5432")).toEqual({ host: "::1", port: 5432 });
    expect(parseTarget("/v2?address=10.0.0.8:5432")).toBeUndefined();
    expect(parseTarget("/v2?address=db.example.com:5432")).toBeUndefined();
    expect(parseTarget("/v2?address=127.0.0.1:99999")).toBeUndefined();
    expect(parseTarget("/v2")).toBeUndefined();
  });

  it("refuses the handshake for any other address, without connecting anywhere", async () => {
    const socket = new WebSocket(`${proxy.url}/v2?address=192.168.1.1:5432`);
    const error = await new Promise<Error>((resolve) => socket.on("error", resolve));
    expect(error.message).toContain("403");
  });

  it("fails the handshake when nothing listens at the target", async () => {
    const socket = new WebSocket(`${proxy.url}/v2?address=127.0.0.1:9`);
    const error = await new Promise<Error>((resolve) => socket.on("error", resolve));
    expect(error.message).toContain("502");
  });

  it("lends the next session the same backend, reset", async () => {
    const first = await session(async (client) => {
      await client.query("set application_name = 'first'");
      await client.query("select pg_advisory_lock(42)");
      return pid(client);
    });
    await settle();
    const second = await session(async (client) => ({
      pid: await pid(client),
      name: (await client.query("show application_name")).rows[0].application_name,
      // A session lock left by the first session would make this false.
      locked: (await client.query("select pg_try_advisory_lock(42) as ok")).rows[0].ok,
    }));
    expect(second).toEqual({ pid: first, name: "", locked: true });
  });

  it("rolls back what a session left open, so the next one starts clean", async () => {
    await session(async (client) => {
      await client.query("begin");
      await client.query("select pg_advisory_xact_lock(7)");
    });
    await settle();
    const locked = await session(
      async (client) => (await client.query("select pg_try_advisory_xact_lock(7) as ok")).rows[0].ok,
    );
    expect(locked).toBe(true);
  });

  it("refuses a wrong password with the server's own error", async () => {
    const url = new URL(inject("legacyDatabaseUrl"));
    url.password = "wrong";
    const client = new Client(url.toString());
    client.on("error", () => {});
    // With pipelined startup the driver may consider itself connected before the server has answered.
    const attempt = client.connect().then(() => client.query("select 1"));
    await expect(attempt).rejects.toThrow(/password authentication failed/);
  });
});
