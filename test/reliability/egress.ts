/**
 * Reliability scenarios for the egress policy and the executor's trust boundary (issue #14 item 3), run against
 * the local stack by run.ts. The stack opts in to private targets (its sites are on 127.0.0.1), so what is tried
 * here is what no setting relaxes: the executor's endpoints and the browser's environment.
 */
import { readdirSync, readFileSync } from "node:fs";
import type { DevState } from "../../scripts/dev-stack.ts";

interface Held {
  tried: string;
  held: boolean;
  detail: string;
}

const SECRET_NAMES = ["EXECUTOR_SHARED_SECRET", "GITHUB_PRIVATE_KEY", "SIGNING_SECRET", "GITHUB_WEBHOOK_SECRET"];

/** Every process below `pid` (Chromium's browser, zygotes, renderers), from /proc. */
function descendants(pid: number): number[] {
  const parents = new Map<number, number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // The parent pid is the second field after the command, which is in parentheses and may hold spaces.
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch {
      // exited meanwhile
    }
  }
  const found: number[] = [];
  const visit = (parent: number) => {
    for (const [child, of] of parents) if (of === parent) found.push(child), visit(child);
  };
  visit(pid);
  return found;
}

export async function executorSecretsStayPut(dev: DevState): Promise<Held> {
  const anonymous = await Promise.all([
    fetch(`${dev.executorUrl}/healthz`).then(async (answer) => JSON.stringify(await answer.json())),
    ...["/jobs", "/http-checks", "/github/check-runs"].map((path) =>
      fetch(`${dev.executorUrl}${path}`, { method: "POST", body: "{}" }).then((answer) => answer.status),
    ),
  ]);
  const authorization = `Bearer ${dev.executorSecret}`;
  const health = await fetch(`${dev.executorUrl}/healthz`, { headers: { authorization } });
  const { pid } = (await health.json()) as { pid: number };
  const processes = descendants(pid);
  const leaks = processes.flatMap((child) => {
    let environ: string[];
    try {
      environ = readFileSync(`/proc/${child}/environ`, "utf8").split("\0");
    } catch {
      return [];
    }
    const secrets = environ.filter((entry) => SECRET_NAMES.some((name) => entry.startsWith(`${name}=`)));
    return secrets.map((entry) => `${child}:${entry.split("=")[0]}`);
  });
  const [anonymousHealth, ...statuses] = anonymous;
  return {
    tried: "executor endpoints without the shared secret; read the environment of every process below the executor",
    held: anonymousHealth === '{"ok":true}' && statuses.every((status) => status === 401) && leaks.length === 0,
    detail:
      `anonymous /healthz ${anonymousHealth}, POSTs answered ${statuses.join(",")}; ` +
      `${processes.length} browser processes, ` +
      `secrets in their environment: ${leaks.length ? leaks.join(" ") : "none"}`,
  };
}
