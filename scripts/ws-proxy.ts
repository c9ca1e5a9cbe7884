/**
 * A WebSocket→TCP proxy so that @neondatabase/serverless reaches a plain local Postgres exactly as it
 * reaches Neon's pooled endpoint. The driver connects to `/v2?address=host:port`; the proxy answers the
 * startup itself, lends the session a pooled backend (scripts/pg-pool.ts), and passes every other message
 * through unchanged. Loopback targets only.
 */
import { createServer as createHttpServer } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { type WebSocket, WebSocketServer } from "ws";
import {
  AUTHENTICATION_CLEARTEXT,
  AUTHENTICATION_OK,
  type Backend,
  BackendPool,
  CANCEL_REQUEST,
  MessageReader,
  PROTOCOL_V3,
  SSL_REQUEST,
  connectTcp,
  errorResponse,
  message,
  openBackend,
  parseStartupParameters,
} from "./pg-pool.ts";

const LOOPBACK = new Set(["127.0.0.1", "localhost", "::1", "[::1]"]);

export interface WsProxy {
  url: string;
  close(): Promise<void>;
}

interface Target {
  host: string;
  port: number;
}

export function parseTarget(requestUrl: string): Target | undefined {
  const address = new URL(requestUrl, "ws://proxy").searchParams.get("address") ?? "";
  const split = address.lastIndexOf(":");
  const host = address.slice(0, split);
  const port = Number(address.slice(split + 1));
  if (split < 0 || !LOOPBACK.has(host) || !Number.isInteger(port) || port < 1 || port > 65_535) return undefined;
  return { host: host.replace(/^\[|\]$/g, ""), port };
}

/**
 * One client session: startup (answered here), then a backend from the pool, then relay until the
 * client's Terminate or close, when the backend goes back to the pool.
 */
function serveSession(
  ws: WebSocket,
  target: Target,
  pool: BackendPool,
  fresh: Socket | undefined,
  onStartup: (parameters: Record<string, string>) => void,
): void {
  const address = `${target.host}:${target.port}`;
  let startup: Buffer = Buffer.alloc(0);
  let parameters: Record<string, string> | undefined;
  const reader = new MessageReader();
  let key = "";
  let backend: Backend | undefined;
  let waiting: Buffer[] | undefined; // client messages that arrive while the backend is being found
  let ended = false;

  const end = () => {
    if (ended) return;
    ended = true;
    fresh?.destroy();
    if (ws.readyState === ws.OPEN) ws.close();
    if (!backend) return;
    backend.socket.removeListener("data", toClient).removeListener("close", onBackendClose);
    void pool.giveBack(key, backend);
  };
  const toClient = (chunk: Buffer) => {
    backend!.observe(chunk);
    ws.send(chunk);
  };
  const onBackendClose = () => {
    backend = undefined;
    end();
  };
  const toBackend = (raw: Buffer) => {
    if (raw[0] === 0x58) return end(); // Terminate: the session ends, the backend stays
    backend!.busy = true;
    backend!.socket.write(raw);
  };

  const connect = async (password: string) => {
    key = BackendPool.key(address, parameters!, password);
    try {
      backend =
        pool.take(key) ??
        (await openBackend(fresh ?? (await connectTcp(target.host, target.port)), parameters!, password));
      if (backend.socket === fresh) fresh = undefined;
    } catch (error) {
      ws.send(
        Buffer.isBuffer(error) ? error : errorResponse(`connection to ${address} failed: ${(error as Error).message}`),
      );
      return end();
    }
    if (ended) return void pool.giveBack(key, backend);
    backend.socket.on("data", toClient).on("close", onBackendClose);
    ws.send(Buffer.concat([AUTHENTICATION_OK, backend.greeting, message("Z", Buffer.from("I"))]));
    for (const raw of waiting!.splice(0)) toBackend(raw);
    waiting = undefined;
  };

  const onClientBytes = (chunk: Buffer): void => {
    if (!parameters) {
      startup = Buffer.concat([startup, chunk]);
      if (startup.length < 8 || startup.length < startup.readInt32BE(0)) return;
      const length = startup.readInt32BE(0);
      const code = startup.readInt32BE(4);
      const packet = startup.subarray(0, length);
      const rest = startup.subarray(length);
      startup = Buffer.alloc(0);
      if (code === SSL_REQUEST) {
        ws.send(Buffer.from("N"));
        return rest.length ? onClientBytes(rest) : undefined;
      }
      if (code === CANCEL_REQUEST) {
        void connectTcp(target.host, target.port).then(
          (socket) => socket.end(packet),
          () => {},
        );
        return end();
      }
      if (code !== PROTOCOL_V3) return end();
      parameters = parseStartupParameters(packet);
      onStartup(parameters);
      ws.send(AUTHENTICATION_CLEARTEXT);
      return rest.length ? onClientBytes(rest) : undefined;
    }
    for (const { type, body, raw } of reader.push(chunk)) {
      if (waiting) waiting.push(raw);
      else if (backend) toBackend(raw);
      else if (type === "p") {
        waiting = [];
        void connect(body.subarray(0, body.indexOf(0)).toString("utf8"));
      } else return end();
    }
  };

  ws.on("message", (data: Buffer) => onClientBytes(data));
  ws.on("close", end);
  ws.on("error", end);
}

export async function startWsProxy(port = 0, host = "127.0.0.1"): Promise<WsProxy> {
  const pool = new BackendPool();
  // How many sessions clients have opened, in all and per database, and how many are open now, for tests that
  // prove a request opened none, or one per database (GET /sessions).
  let sessions = 0;
  const byDatabase: Record<string, number> = {};
  const countStartup = ({ database = "" }: Record<string, string>) => {
    byDatabase[database] = (byDatabase[database] ?? 0) + 1;
  };
  const http = createHttpServer((req, res) => {
    if (req.method === "GET" && req.url === "/sessions") {
      return res
        .writeHead(200, { "content-type": "application/json" })
        .end(JSON.stringify({ sessions, byDatabase, open: wss.clients.size }));
    }
    res.writeHead(426).end("WebSocket only\n");
  });
  const wss = new WebSocketServer({ noServer: true });

  // With no pooled backend for the address, the TCP connection is made before the upgrade completes, so an
  // unreachable database fails the WebSocket handshake (as Neon's proxy does) instead of closing a socket
  // the driver is still writing to.
  http.on("upgrade", async (request, client, head) => {
    const refuse = (status: string) => client.end(`HTTP/1.1 ${status}\r\nConnection: close\r\n\r\n`);
    const target = parseTarget(request.url ?? "");
    if (!target) return refuse("403 Forbidden");
    sessions++;
    let fresh: Socket | undefined;
    if (!pool.hasIdle(`${target.host}:${target.port}`)) {
      try {
        fresh = await connectTcp(target.host, target.port);
      } catch {
        return refuse("502 Bad Gateway");
      }
    }
    wss.handleUpgrade(request, client, head, (ws) => serveSession(ws, target, pool, fresh, countStartup));
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
        pool.close();
        http.close(() => resolve());
      }),
  };
}
