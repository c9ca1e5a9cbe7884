/**
 * A real local HTTP server standing in for a site under test. It records, per `group`, how many checks were
 * in flight at once and the order requests arrived in, so tests can assert what a site would experience.
 *
 *   GET /ok                          200 "hello from the site under test"
 *   GET /status/:code                that status
 *   GET /slow?ms=&group=&seq=        200 after `ms`, counted in `group`
 *   GET /stats?group=                { inFlight, maxInFlight, arrivals: [seq…] }
 *   GET /redirect?to=                302 to `to`
 *   GET /big?bytes=                  a text body of that many bytes, ending in "END"
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

interface Group {
  inFlight: number;
  maxInFlight: number;
  arrivals: string[];
}

export async function startSite(): Promise<{ url: string; close(): Promise<void> }> {
  const groups = new Map<string, Group>();
  const group = (name: string) => {
    let found = groups.get(name);
    if (!found) {
      found = { inFlight: 0, maxInFlight: 0, arrivals: [] };
      groups.set(name, found);
    }
    return found;
  };

  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://site");
    const status = /^\/status\/(\d{3})$/.exec(url.pathname);
    if (url.pathname === "/ok")
      return res.writeHead(200, { "content-type": "text/plain" }).end("hello from the site under test");
    if (status) return res.writeHead(Number(status[1])).end(`status ${status[1]}`);
    if (url.pathname === "/redirect") return res.writeHead(302, { location: url.searchParams.get("to") ?? "/" }).end();
    if (url.pathname === "/big") {
      const bytes = Number(url.searchParams.get("bytes") ?? 0);
      return res.writeHead(200, { "content-type": "text/plain" }).end(`${"x".repeat(Math.max(0, bytes - 3))}END`);
    }
    if (url.pathname === "/stats") {
      return res
        .writeHead(200, { "content-type": "application/json" })
        .end(JSON.stringify(group(url.searchParams.get("group") ?? "")));
    }
    if (url.pathname === "/slow") {
      const counted = group(url.searchParams.get("group") ?? "");
      counted.arrivals.push(url.searchParams.get("seq") ?? "");
      counted.inFlight += 1;
      counted.maxInFlight = Math.max(counted.maxInFlight, counted.inFlight);
      await new Promise((resolve) => setTimeout(resolve, Number(url.searchParams.get("ms") ?? 0)));
      counted.inFlight -= 1;
      return res.writeHead(200, { "content-type": "text/plain" }).end("slow ok");
    }
    res.writeHead(404).end("not found");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
