/**
 * The executor's HTTP face. The queue consumer hands it one dispatch message per run (POST /jobs) and treats
 * 202 as "accepted"; anything else makes the consumer retry. Running the job arrives with the executor issue:
 * until then an accepted job is only counted.
 */
import { timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { dispatchMessageSchema } from "../schema/contracts.ts";
import type { ExecutorConfig } from "./config.ts";

const MAX_BODY_BYTES = 64 * 1024;

export interface ExecutorServer {
  url: string;
  close(): Promise<void>;
}

export async function startExecutorServer(config: ExecutorConfig): Promise<ExecutorServer> {
  const stats = { accepted: 0 };
  const expectedAuth = Buffer.from(`Bearer ${config.EXECUTOR_SHARED_SECRET}`);

  const server: Server = createServer(async (req, res) => {
    if (req.method === "GET" && req.url === "/healthz") {
      return json(res, 200, { ok: true, capacity: config.EXECUTOR_CONCURRENCY, ...stats });
    }
    if (req.method === "POST" && req.url === "/jobs") {
      const auth = Buffer.from(req.headers.authorization ?? "");
      if (auth.length !== expectedAuth.length || !timingSafeEqual(auth, expectedAuth)) {
        return json(res, 401, { error: "bad executor secret" });
      }
      const body = await readJson(req);
      const job = dispatchMessageSchema.safeParse(body);
      if (!job.success) return json(res, 422, { error: "invalid job", issues: job.error.issues });
      stats.accepted += 1;
      return json(res, 202, { accepted: job.data.runId });
    }
    return json(res, 404, { error: "not found" });
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.PORT, config.HOST, resolve);
  });
  const { port } = server.address() as AddressInfo;
  const host = config.HOST === "0.0.0.0" ? "127.0.0.1" : config.HOST;
  return {
    url: `http://${host}:${port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) return undefined;
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    return undefined;
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
}
