/**
 * A repository's tarball is hostile input (executor/specs/tarball.ts): entries that leave the folder, links
 * and devices, too many entries and gzip bombs are refused, and nothing lands outside the folder.
 */
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { gzipSync } from "node:zlib";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { TarballRefused, unpackTarball, DEFAULT_TARBALL_LIMITS } from "../../executor/specs/tarball.ts";

/** One ustar entry: a 512-byte header (name, mode, size, type, checksum) and its data padded to 512. */
function entry(name: string, body = "", type = "0", linkName = ""): Buffer {
  const header = Buffer.alloc(512);
  const field = (value: string, offset: number, length: number) => header.write(value, offset, length, "utf8");
  field(name, 0, 100);
  field("0000644\0", 100, 8);
  field("0000000\0", 108, 8);
  field("0000000\0", 116, 8);
  field(`${Buffer.byteLength(body).toString(8).padStart(11, "0")}\0`, 124, 12);
  field("00000000000\0", 136, 12);
  field("        ", 148, 8);
  field(type, 156, 1);
  field(linkName, 157, 100);
  field("ustar\0", 257, 6);
  field("00", 263, 2);
  const sum = [...header].reduce((total, byte) => total + byte, 0);
  field(`${sum.toString(8).padStart(6, "0")}\0 `, 148, 8);
  const data = Buffer.alloc(Math.ceil(Buffer.byteLength(body) / 512) * 512);
  data.write(body);
  return Buffer.concat([header, data]);
}
const tarball = (...entries: Buffer[]) => gzipSync(Buffer.concat([...entries, Buffer.alloc(1024)]));

let root: string;
let dir: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "spec-tarball-"));
  dir = join(root, "repo");
  await mkdir(dir);
});
afterEach(() => rm(root, { recursive: true, force: true }));

const unpack = (body: Buffer, limits = DEFAULT_TARBALL_LIMITS) => unpackTarball(Readable.from([body]), dir, limits);

describe("unpacking a repository's tarball", () => {
  it("writes its files without the top folder", async () => {
    expect(
      await unpack(tarball(entry("acme-x-1234567/", "", "5"), entry("acme-x-1234567/tests/a.spec.ts", "test()"))),
    ).toEqual({ files: 1 });
    expect(await readFile(join(dir, "tests/a.spec.ts"), "utf8")).toBe("test()");
  });

  it("refuses a path out of the folder, and writes nothing there", async () => {
    await expect(unpack(tarball(entry("top/../../evil.txt", "pwned")))).rejects.toThrow(TarballRefused);
    expect(existsSync(join(root, "evil.txt"))).toBe(false);
  });

  it("refuses symlinks and hard links", async () => {
    await expect(unpack(tarball(entry("top/link", "", "2", "/etc/passwd")))).rejects.toThrow(/is a SymbolicLink/);
    await expect(unpack(tarball(entry("top/hard", "", "1", "top/other")))).rejects.toThrow(/is a Link/);
    expect(existsSync(join(dir, "link"))).toBe(false);
  });

  it("stops a gzip bomb and too many entries", async () => {
    const big = tarball(entry("top/zeros", "\0".repeat(2 * 1024 * 1024)));
    expect(big.length).toBeLessThan(20_000);
    await expect(unpack(big, { ...DEFAULT_TARBALL_LIMITS, maxUnpackedBytes: 1024 * 1024 })).rejects.toThrow(
      /over 1048576 bytes/,
    );
    const many = tarball(...Array.from({ length: 5 }, (_, index) => entry(`top/f${index}`, "x")));
    await expect(unpack(many, { ...DEFAULT_TARBALL_LIMITS, maxEntries: 3 })).rejects.toThrow(/more than 3 entries/);
  });
});
