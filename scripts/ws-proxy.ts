/**
 * A WebSocket→TCP proxy so that @neondatabase/serverless reaches a plain local Postgres exactly as it reaches
 * Neon. The driver connects to `/v2?address=host:port`; bytes pass through unchanged. Loopback targets only.
 */
import { type AddressInfo, type Socket, connect as tcpConnect } from "node:net";
import { createServer as createHttpServer } from "node:http";
import { type WebSocket, WebSocketServer } from "ws";

const LOOPBACK = new Set(["127.0.0.1", "localhost", "::1", "[::1]"]);
// PostgreSQL's Terminate message: 'X' followed by the length 4.
const TERMINATE = Buffer.from([0x58, 0, 0, 0, 4]);

export interface WsProxy {
  url: string;
  close(): Promise<void>;
}

export function parseTarget(requestUrl: string): { host: string; port: number } | undefined {
  const address = new URL(requestUrl, "ws://proxy").searchParams.get("address") ?? "";
  const split = address.lastIndexOf(":");
  const host = address.slice(0, split);
  const port = Number(address.slice(split + 1));
  if (split < 0 || !LOOPBACK.has(host) || !Number.isInteger(port) || port < 1 || port > 65_535) return undefined;
  return { host: host.replace(/^\[|\]$/g, ""), port };
}

function pipe(socket: WebSocket, tcp: Socket): void {
  tcp.on("data", (chunk) => socket.send(chunk));
  tcp.on("error", () => socket.close(1011, "upstream connection lost"));
  tcp.on("close", () => socket.readyState === socket.OPEN && socket.close());
  socket.on("message", (data: Buffer) => {
    tcp.write(data);
    if (data.equals(TERMINATE)) {
      tcp.end();
      socket.close();
    }
  });
  socket.on("close", () => tcp.destroy());
  socket.on("error", () => tcp.destroy());
}

export async function startWsProxy(port = 0, host = "127.0.0.1"): Promise<WsProxy> {
  const http = createHttpServer((_req, res) => res.writeHead(426).end("WebSocket only\n"));
  const wss = new WebSocketServer({ noServer: true });

  // The TCP connection is made before the upgrade completes, so an unreachable database fails the
  // WebSocket handshake (as Neon's proxy does) instead of closing a socket the driver is still writing to.
  http.on("upgrade", (request, client, head) => {
    const refuse = (status: string) => client.end(`HTTP/1.1 ${status}\r\nConnection: close\r\n\r\n`);
    const target = parseTarget(request.url ?? "");
    if (!target) return refuse("403 Forbidden");
    const tcp = tcpConnect(target.port, target.host);
    tcp.once("error", () => refuse("502 Bad Gateway"));
    tcp.once("connect", () => {
      tcp.removeAllListeners("error");
      tcp.setNoDelay(true);
      wss.handleUpgrade(request, client, head, (socket) => pipe(socket, tcp));
    });
  });
  await new Promise<void>((resolve, reject) => {
    http.once("error", reject);
    http.listen(port, host, resolve);
  });
  const { port: bound } = http.address() as AddressInfo;
  return {
    url: `ws://${host}:${bound}`,
    close: () =>
      new Promise((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close();
        http.close(() => resolve());
      }),
  };
}
