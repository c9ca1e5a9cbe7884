import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { parseTarget, startWsProxy, type WsProxy } from "../../scripts/ws-proxy.ts";

describe("WebSocket→TCP proxy", () => {
  let proxy: WsProxy;
  beforeAll(async () => {
    proxy = await startWsProxy();
  });
  afterAll(() => proxy.close());

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
});
