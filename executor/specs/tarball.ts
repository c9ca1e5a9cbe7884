/**
 * A repository at one commit, as GitHub's tarball endpoint serves it (a gzip tar with one top folder
 * `owner-repo-sha/`), unpacked into an empty folder. The tarball is hostile input: only regular files and
 * folders are written (no symlinks, hard links or devices), no path may leave the folder, ownership and
 * special mode bits are dropped, and the download, the unpacked bytes and the entry count are capped.
 */
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { x as extract } from "tar";

export interface TarballLimits {
  /** Compressed bytes downloaded. */
  maxDownloadBytes: number;
  /** Bytes after gunzip (tar headers included): a gzip bomb stops here. */
  maxUnpackedBytes: number;
  maxEntries: number;
}

export const DEFAULT_TARBALL_LIMITS: TarballLimits = {
  maxDownloadBytes: 100 * 1024 * 1024,
  maxUnpackedBytes: 500 * 1024 * 1024,
  maxEntries: 50_000,
};

/** The repository's tarball refused: the message says which rule it broke. */
export class TarballRefused extends Error {
  override name = "TarballRefused";
}

const ALLOWED_TYPES = new Set(["File", "OldFile", "ContiguousFile", "Directory"]);

/** Counts bytes through a stream and fails it past `max`. */
function cap(max: number, what: string): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      seen += chunk.length;
      if (seen > max) done(new TarballRefused(`${what} is over ${max} bytes`));
      else done(null, chunk);
    },
  });
}

/** A path that stays inside the folder once the top folder is stripped. */
const safeEntryPath = (path: string) => {
  const parts = path.split("/").slice(1);
  return !path.startsWith("/") && !path.includes("\\") && parts.every((part) => part !== ".." && !part.includes("\0"));
};

/** Unpacks a gzip tarball `body` into `dir` (which must exist and be empty), without its top folder. */
export async function unpackTarball(
  body: ReadableStream<Uint8Array> | Readable,
  dir: string,
  limits = DEFAULT_TARBALL_LIMITS,
): Promise<{ files: number }> {
  const refusals: string[] = [];
  let entries = 0;
  let files = 0;
  const unpack = extract({
    cwd: dir,
    strip: 1,
    preserveOwner: false,
    // No setuid/setgid/sticky bits, nothing world-writable.
    dmode: 0o755,
    fmode: 0o644,
    noChmod: true,
    filter: (path, entry) => {
      const type = "type" in entry ? entry.type : "File";
      entries += 1;
      if (entries > limits.maxEntries) refusals.push(`more than ${limits.maxEntries} entries`);
      else if (!ALLOWED_TYPES.has(type))
        refusals.push(`${path.slice(0, 200)} is a ${type}: only files and folders are unpacked`);
      else if (!safeEntryPath(path)) refusals.push(`${path.slice(0, 200)} leaves the repository folder`);
      else {
        if (type !== "Directory") files += 1;
        return true;
      }
      return false;
    },
    onwarn: (_code, message) => refusals.push(String(message).slice(0, 200)),
  });
  const source =
    body instanceof Readable ? body : Readable.fromWeb(body as import("node:stream/web").ReadableStream<Uint8Array>);
  await pipeline(
    source,
    cap(limits.maxDownloadBytes, "the tarball"),
    createGunzip(),
    cap(limits.maxUnpackedBytes, "the unpacked repository"),
    unpack,
  );
  if (refusals.length > 0)
    throw new TarballRefused(`the repository's tarball was refused: ${refusals.slice(0, 5).join("; ")}`);
  return { files };
}
