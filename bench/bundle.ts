/**
 * The Worker as Cloudflare receives it: the bundle `wrangler deploy --dry-run` uploads (gzip, target
 * ≤ 120 KiB) and its start time, the top-level evaluation Cloudflare runs before a first request (limit
 * 1 s): timed in fresh V8 isolates of Node, cloudflare:workers replaced by a stub of its base classes.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { percentile } from "./stats.ts";

const START_SAMPLES = Number(process.env.BENCH_START_SAMPLES ?? 15);
const GZIP_TARGET_KIB = 120;

type Row = Record<string, string | number>;

const CLOUDFLARE_WORKERS_STUB = `
export class DurableObject { constructor(ctx, env) { this.ctx = ctx; this.env = env; } }
export class WorkerEntrypoint { constructor(ctx, env) { this.ctx = ctx; this.env = env; } }
`;

/** Milliseconds to import `file` in a new Node process, as that process measures it. */
function importMs(file: string): number {
  const timed = `await import(${JSON.stringify(file)});`;
  const script = `const t = performance.now(); ${timed} console.log(performance.now() - t);`;
  return Number(execFileSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" }).trim());
}

export function benchBundle(): Row[] {
  const dir = mkdtempSync(join(tmpdir(), "flightcheck-bundle-"));
  try {
    const output = execFileSync(
      "npx",
      ["wrangler", "deploy", "--dry-run", "--outdir", dir, "--containers-rollout=none"],
      {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    const [, total, gzip] = /Total Upload: ([\d.]+) KiB \/ gzip: ([\d.]+) KiB/.exec(output) ?? [];
    if (!gzip) throw new Error(`no upload size in wrangler's output:\n${output}`);

    writeFileSync(join(dir, "cloudflare-workers.mjs"), CLOUDFLARE_WORKERS_STUB);
    const bundle = readFileSync(join(dir, "index.js"), "utf8").replaceAll(
      '"cloudflare:workers"',
      '"./cloudflare-workers.mjs"',
    );
    const worker = join(dir, "worker.mjs");
    writeFileSync(worker, bundle);
    const empty = join(dir, "empty.mjs");
    writeFileSync(empty, "export default {};\n");
    const startMs = Array.from({ length: START_SAMPLES }, () => importMs(worker));
    const emptyMs = Array.from({ length: START_SAMPLES }, () => importMs(empty));
    return [
      {
        "upload KiB": Number(total),
        "gzip KiB": Number(gzip),
        "gzip target KiB": `≤ ${GZIP_TARGET_KIB}`,
        holds: Number(gzip) <= GZIP_TARGET_KIB ? "yes" : "no",
        "start p50 ms (top-level evaluation)": percentile(startMs, 50),
        "an empty module p50 ms": percentile(emptyMs, 50),
        "start limit ms": 1000,
      },
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
