/**
 * A folder packed the way GitHub's tarball endpoint serves a repository: a gzip tar whose entries sit under
 * one top folder (`owner-repo-sha7/`), for the local GitHub stand-in to serve.
 */
import { cp, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { c as create } from "tar";

export async function packRepository(dir: string, topFolder: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const stream = create(
    { gzip: true, cwd: dir, prefix: topFolder, portable: true, filter: (path) => !path.includes("node_modules") },
    ["."],
  );
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** `dir` packed with some files replaced (a broken config, a lockfile out of step). */
export async function packVariant(dir: string, topFolder: string, changes: Record<string, string>): Promise<Buffer> {
  const copy = await mkdtemp(join(tmpdir(), "flightcheck-variant-"));
  try {
    await cp(dir, copy, { recursive: true, filter: (path) => !path.includes("node_modules") });
    for (const [name, content] of Object.entries(changes)) await writeFile(join(copy, name), content);
    return await packRepository(copy, topFolder);
  } finally {
    await rm(copy, { recursive: true, force: true });
  }
}
