/**
 * The egress policy at connect time (DESIGN §11). Every host a browser case or an http-check reaches is resolved
 * here, every resolved address is checked, and the connection goes to the checked address (never resolved again),
 * so neither DNS rebinding nor a redirect gets past it. Chromium goes through `startEgressProxy`, a local forward
 * proxy (plain HTTP and CONNECT) that applies the policy to each request, redirects included.
 */
import { lookup as systemLookup } from "node:dns/promises";
import { createServer, request, type IncomingHttpHeaders } from "node:http";
import { connect, isIP, type AddressInfo, type Socket } from "node:net";
import { addressRefusal, hostnameRefusal } from "../schema/egress.ts";

/** Set on the proxy's answer to a refused plain-HTTP request; its value is the reason. */
export const EGRESS_REFUSED_HEADER = "x-flightcheck-egress-refused";
/** Set on the proxy's answer when the site could not be reached: Chromium's name for the error (ERR_…). */
export const EGRESS_FAILED_HEADER = "x-flightcheck-egress-failed";

/** Chromium's names for what went wrong, so a failed hop through the proxy reads as it would without it. */
const CHROMIUM_ERRORS: Record<string, string> = {
  ECONNREFUSED: "ERR_CONNECTION_REFUSED",
  ECONNRESET: "ERR_CONNECTION_RESET",
  ETIMEDOUT: "ERR_CONNECTION_TIMED_OUT",
  EHOSTUNREACH: "ERR_ADDRESS_UNREACHABLE",
  ENETUNREACH: "ERR_INTERNET_DISCONNECTED",
  ENOTFOUND: "ERR_NAME_NOT_RESOLVED",
  EAI_AGAIN: "ERR_NAME_NOT_RESOLVED",
  ENODATA: "ERR_NAME_NOT_RESOLVED",
};
const chromiumError = (error: unknown) => CHROMIUM_ERRORS[(error as NodeJS.ErrnoException).code ?? ""] ?? "ERR_FAILED";

export type Lookup = (hostname: string) => Promise<string[]>;

export interface EgressPolicy {
  /** `ALLOW_PRIVATE_TARGETS`: the local stack and tests reach their sites on loopback. Never in production. */
  allowPrivate: boolean;
  /** Tests map made-up names to local servers; defaults to the system resolver. */
  lookup?: Lookup;
  /** Tests decide which addresses count as public; defaults to the shared policy (schema/egress.ts). */
  addressRefusal?: (address: string) => string | undefined;
}

export class EgressRefused extends Error {
  override name = "EgressRefused";
  constructor(reason: string) {
    super(`refused by egress policy: ${reason}`);
  }
}

const resolveAll: Lookup = async (hostname) =>
  (await systemLookup(hostname, { all: true, verbatim: true })).map((entry) => entry.address);

/**
 * The address to connect to for `hostname` (a name or an address literal). One refused address among the
 * answers refuses the name: a rebinding answer cannot slip a private address in beside a public one.
 */
export async function resolveTarget(hostname: string, policy: EgressPolicy): Promise<string> {
  const host = hostname.replace(/^\[(.*)\]$/, "$1");
  const refusal = policy.allowPrivate ? () => undefined : (policy.addressRefusal ?? addressRefusal);
  if (!isIP(host)) {
    const named = policy.allowPrivate ? undefined : hostnameRefusal(host);
    if (named) throw new EgressRefused(named);
  }
  const addresses = isIP(host) ? [host] : await (policy.lookup ?? resolveAll)(host);
  if (addresses.length === 0) throw Object.assign(new Error(`${host} has no address`), { code: "ENOTFOUND" });
  for (const address of addresses) {
    const refused = refusal(address);
    if (refused) throw new EgressRefused(host === address ? refused : `${refused} (resolved from ${host})`);
  }
  return addresses[0]!;
}

export interface EgressProxy {
  /** `http://127.0.0.1:<port>`, for Chromium's `--proxy-server`. */
  url: string;
  /** The latest refusal at or after `since` (ms since the epoch): why a navigation failed. */
  refusalSince(since: number): string | undefined;
  close(): Promise<void>;
}

/** Headers that describe the hop to the proxy, not the request. */
const HOP_HEADERS = ["proxy-connection", "proxy-authorization", "connection", "keep-alive"];

export async function startEgressProxy(policy: EgressPolicy): Promise<EgressProxy> {
  let lastRefusal: { at: number; reason: string } | undefined;
  const refused = (error: unknown) => {
    if (!(error instanceof EgressRefused)) return undefined;
    lastRefusal = { at: Date.now(), reason: error.message };
    return error.message;
  };
  const sockets = new Set<Socket>();

  const server = createServer(async (req, res) => {
    const target = URL.parse(req.url ?? "");
    if (target?.protocol !== "http:") {
      return void res.writeHead(400).end("a forward proxy takes absolute http:// URLs");
    }
    const failed = (error: unknown) => {
      const reason = refused(error);
      if (res.headersSent) return void res.destroy();
      const marker = reason ? { [EGRESS_REFUSED_HEADER]: reason } : { [EGRESS_FAILED_HEADER]: chromiumError(error) };
      const status = reason ? 403 : 502;
      res.writeHead(status, { "content-type": "text/plain", ...marker }).end(reason ?? (error as Error).message);
    };
    let address: string;
    try {
      address = await resolveTarget(target.hostname, policy);
    } catch (error) {
      return failed(error);
    }
    const headers: IncomingHttpHeaders = { ...req.headers };
    for (const name of HOP_HEADERS) delete headers[name];
    const forward = {
      host: address,
      port: target.port || 80,
      method: req.method,
      path: target.pathname + target.search,
      headers,
    };
    const upstream = request(forward, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on("error", failed);
    req.pipe(upstream);
  });

  server.on("connect", async (req, client: Socket, head: Buffer) => {
    sockets.add(client);
    client.on("close", () => sockets.delete(client)).on("error", () => client.destroy());
    const target = URL.parse(`http://${req.url}`);
    // Read the port as sent: URL drops a default one (ws:// tunnels to :80).
    const port = Number(/:(\d{1,5})$/.exec(req.url ?? "")?.[1]);
    let address: string;
    try {
      if (!target || !port) throw new Error(`CONNECT needs host:port, got ${req.url}`);
      address = await resolveTarget(target.hostname, policy);
    } catch (error) {
      const reason = refused(error);
      const answer = reason ? `403 Forbidden\r\n${EGRESS_REFUSED_HEADER}: ${reason}` : "502 Bad Gateway";
      return void client.end(`HTTP/1.1 ${answer}\r\n\r\n`);
    }
    let established = false;
    const upstream = connect(port, address, () => {
      established = true;
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      upstream.write(head);
      upstream.pipe(client).pipe(upstream);
    });
    upstream.on("error", () => (established ? client.destroy() : client.end("HTTP/1.1 502 Bad Gateway\r\n\r\n")));
    client.on("close", () => upstream.destroy());
  });

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    refusalSince: (since) => (lastRefusal && lastRefusal.at >= since ? lastRefusal.reason : undefined),
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
