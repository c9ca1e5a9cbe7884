/**
 * Session pooling for the local WebSocket proxy, standing in for Neon's pooler: a client session gets an
 * authenticated backend connection from a pool instead of making PostgreSQL start a new backend process,
 * and when the session ends the backend is reset (ROLLBACK, DISCARD ALL) and kept for the next one. Without
 * it every Worker request pays a backend fork, which on a small machine dominates everything else.
 *
 * Only what the proxy needs of the wire protocol (v3): the startup exchange with cleartext passwords,
 * message framing, and ReadyForQuery to know when a backend is idle.
 */
import { type Socket, connect as tcpConnect } from "node:net";

export const PROTOCOL_V3 = 196_608;
export const SSL_REQUEST = 80_877_103;
export const CANCEL_REQUEST = 80_877_102;
const IDLE_TIMEOUT_MS = 30_000;
const MAX_IDLE_PER_KEY = 64;

export interface Message {
  type: string;
  body: Buffer;
  raw: Buffer;
}

/** Splits a byte stream into protocol messages (type byte + int32 length). */
export class MessageReader {
  private buffer: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Message[] {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    const messages: Message[] = [];
    while (this.buffer.length >= 5) {
      const length = this.buffer.readInt32BE(1);
      if (this.buffer.length < 1 + length) break;
      const raw = this.buffer.subarray(0, 1 + length);
      messages.push({ type: String.fromCharCode(raw[0]!), body: raw.subarray(5), raw });
      this.buffer = this.buffer.subarray(1 + length);
    }
    return messages;
  }

  /** Bytes received but not yet framed. */
  rest(): Buffer {
    return this.buffer;
  }
}

export const message = (type: string, body: Buffer = Buffer.alloc(0)) => {
  const header = Buffer.alloc(5);
  header.write(type, 0, "latin1");
  header.writeInt32BE(4 + body.length, 1);
  return Buffer.concat([header, body]);
};

const int32 = (value: number) => {
  const buffer = Buffer.alloc(4);
  buffer.writeInt32BE(value);
  return buffer;
};

export const AUTHENTICATION_OK = message("R", int32(0));
export const AUTHENTICATION_CLEARTEXT = message("R", int32(3));
const cstring = (text: string) => Buffer.from(`${text}\0`, "utf8");

export function startupMessage(parameters: Record<string, string>): Buffer {
  const body = Buffer.concat([
    int32(PROTOCOL_V3),
    ...Object.entries(parameters).flatMap(([k, v]) => [cstring(k), cstring(v)]),
    Buffer.from([0]),
  ]);
  return Buffer.concat([int32(4 + body.length), body]);
}

/** Reads the StartupMessage's key/value pairs. */
export function parseStartupParameters(packet: Buffer): Record<string, string> {
  const fields = packet.subarray(8).toString("utf8").split("\0");
  const parameters: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length && fields[i]; i += 2) parameters[fields[i]!] = fields[i + 1]!;
  return parameters;
}

export const errorResponse = (text: string) =>
  message("E", Buffer.concat([cstring("SFATAL"), cstring("C08006"), cstring(`M${text}`), Buffer.from([0])]));

/** An authenticated server connection, idle between sessions. */
export class Backend {
  readonly socket: Socket;
  /** ParameterStatus and BackendKeyData from its startup, replayed to every session that gets it. */
  readonly greeting: Buffer;
  private readonly reader = new MessageReader();
  /** The transaction status of its last ReadyForQuery ('I' idle, 'T' in a transaction, 'E' failed one). */
  status = "I";
  /** True between a message sent to it and the ReadyForQuery that answers. */
  busy = false;

  constructor(socket: Socket, greeting: Buffer) {
    this.socket = socket;
    this.greeting = greeting;
  }

  /** Follows the server's messages to know when it is idle again. */
  observe(chunk: Buffer): void {
    for (const { type, body } of this.reader.push(chunk)) {
      if (type === "Z") {
        this.status = String.fromCharCode(body[0]!);
        this.busy = false;
      }
    }
  }

  /** Sends a simple query and resolves at its ReadyForQuery. */
  query(sql: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        this.observe(chunk);
        if (!this.busy) cleanup(), resolve();
      };
      const onClose = () => (cleanup(), reject(new Error("backend closed")));
      const cleanup = () => {
        this.socket.off("data", onData);
        this.socket.off("close", onClose);
      };
      this.socket.on("data", onData);
      this.socket.once("close", onClose);
      this.busy = true;
      this.socket.write(message("Q", cstring(sql)));
    });
  }
}

/** Opens and authenticates a backend with the client's own credentials; rejects with the server's error. */
export function openBackend(socket: Socket, parameters: Record<string, string>, password: string): Promise<Backend> {
  return new Promise((resolve, reject) => {
    const reader = new MessageReader();
    const greeting: Buffer[] = [];
    const fail = (error: Error | Buffer) => {
      socket.off("data", onData);
      socket.destroy();
      reject(error);
    };
    const onData = (chunk: Buffer) => {
      for (const { type, body, raw } of reader.push(chunk)) {
        if (type === "R" && body.readInt32BE(0) === 3) socket.write(message("p", cstring(password)));
        else if (type === "R" && body.readInt32BE(0) === 0) continue;
        else if (type === "R") return fail(errorResponse("the local pooler supports cleartext password auth only"));
        else if (type === "S" || type === "K") greeting.push(raw);
        else if (type === "E") return fail(raw);
        else if (type === "Z") {
          socket.off("data", onData);
          return resolve(new Backend(socket, Buffer.concat(greeting)));
        }
      }
    };
    socket.on("data", onData);
    socket.once("error", (error) => fail(error));
    socket.write(
      startupMessage({
        user: parameters.user ?? "postgres",
        database: parameters.database ?? parameters.user ?? "postgres",
      }),
    );
  });
}

/** Idle backends by address, user, database and password. */
interface IdleBackend {
  backend: Backend;
  timer: NodeJS.Timeout;
  onClose: () => void;
}

export class BackendPool {
  private readonly idle = new Map<string, IdleBackend[]>();

  static key(address: string, parameters: Record<string, string>, password: string): string {
    return [address, parameters.user, parameters.database, password].join("\0");
  }

  hasIdle(address: string): boolean {
    for (const [key, backends] of this.idle) if (key.startsWith(`${address}\0`) && backends.length) return true;
    return false;
  }

  take(key: string): Backend | undefined {
    const entry = this.idle.get(key)?.pop();
    if (!entry) return undefined;
    clearTimeout(entry.timer);
    entry.backend.socket.off("close", entry.onClose);
    return entry.backend;
  }

  private forget(key: string, backend: Backend): void {
    this.idle.set(
      key,
      (this.idle.get(key) ?? []).filter((entry) => entry.backend !== backend),
    );
  }

  /** Resets a backend whose session ended cleanly and keeps it; anything else is closed. */
  async giveBack(key: string, backend: Backend): Promise<void> {
    try {
      if (backend.busy || backend.socket.destroyed) throw new Error("not reusable");
      if (backend.status !== "I") await backend.query("ROLLBACK");
      await backend.query("DISCARD ALL");
    } catch {
      backend.socket.destroy();
      return;
    }
    const backends = this.idle.get(key) ?? [];
    if (backends.length >= MAX_IDLE_PER_KEY) return void backend.socket.end(message("X"));
    const timer = setTimeout(() => {
      this.forget(key, backend);
      backend.socket.end(message("X"));
    }, IDLE_TIMEOUT_MS);
    timer.unref();
    const onClose = () => {
      clearTimeout(timer);
      this.forget(key, backend);
    };
    backend.socket.once("close", onClose);
    backends.push({ backend, timer, onClose });
    this.idle.set(key, backends);
  }

  close(): void {
    for (const backends of this.idle.values())
      for (const { backend, timer } of backends) clearTimeout(timer), backend.socket.destroy();
    this.idle.clear();
  }
}

export const connectTcp = (host: string, port: number) =>
  new Promise<Socket>((resolve, reject) => {
    const socket = tcpConnect(port, host);
    socket.once("connect", () => (socket.setNoDelay(true), resolve(socket)));
    socket.once("error", reject);
  });
