/**
 * The architecture as the import graph shows it (issue #18): no circle of value imports between modules (a pair
 * that only shares types is allowed: types vanish at run time), and the store never reaches into the run engine.
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const SOURCES = ["worker", "executor", "schema"];
const GENERATED = /worker-configuration\.d\.ts$|\/migrations\//;

interface Edge {
  to: string;
  typeOnly: boolean;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return /\.(ts|mjs)$/.test(entry.name) && !GENERATED.test(path) ? [path] : [];
  });
}

/** Relative imports and re-exports of `file`, each marked type-only when only types come through it. */
function importsOf(file: string): Edge[] {
  const text = readFileSync(join(ROOT, file), "utf8");
  const statements = text.matchAll(/^(import|export)\s+(type\s+)?([^;]*?)\s+from\s+"(\.[^"]+)"/gms);
  return [...statements].map(([, , typeKeyword, clause = "", specifier = ""]) => {
    const names = /^\{([^}]*)\}$/.exec(clause.trim())?.[1];
    const everyNameIsType = !!names?.split(",").every((name) => name.trim() === "" || /^type\s/.test(name.trim()));
    return { to: relative(ROOT, resolve(ROOT, dirname(file), specifier)), typeOnly: !!typeKeyword || everyNameIsType };
  });
}

const graph = new Map(SOURCES.flatMap(sourceFiles).map((file) => [file, importsOf(file)]));

/** Strongly connected components of the value-import graph (Tarjan), larger than one module. */
function valueCycles(): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (file: string) => {
    index.set(file, index.size);
    low.set(file, index.get(file)!);
    stack.push(file);
    onStack.add(file);
    for (const { to, typeOnly } of graph.get(file) ?? []) {
      if (typeOnly || !graph.has(to)) continue;
      if (!index.has(to)) {
        visit(to);
        low.set(file, Math.min(low.get(file)!, low.get(to)!));
      } else if (onStack.has(to)) {
        low.set(file, Math.min(low.get(file)!, index.get(to)!));
      }
    }
    if (low.get(file) !== index.get(file)) return;
    const component: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      component.push(member);
    } while (member !== file);
    if (component.length > 1) cycles.push(component.sort());
  };
  for (const file of graph.keys()) if (!index.has(file)) visit(file);
  return cycles;
}

describe("import graph", () => {
  it("reads every source module and its imports", () => {
    expect(graph.size).toBeGreaterThan(80);
    expect(graph.get("worker/app.ts")?.map((edge) => edge.to)).toContain("worker/routes/runs.ts");
  });

  it("has no circle of value imports", () => {
    expect(valueCycles()).toEqual([]);
  });

  it("keeps the store out of the run engine: nothing in worker/store imports worker/runs", () => {
    const reachesIn = [...graph]
      .filter(([file]) => file.startsWith("worker/store/"))
      .flatMap(([file, edges]) =>
        edges.filter((edge) => edge.to.startsWith("worker/runs/")).map((e) => `${file} → ${e.to}`),
      );
    expect(reachesIn).toEqual([]);
  });
});
