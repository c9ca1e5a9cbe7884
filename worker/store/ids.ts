/**
 * Internal ids, whose shape names the store that owns a row (DESIGN §3):
 * a cuid (25 chars, `c` + 24 of [a-z0-9]) lives in `legacy`; a ksuid (27 chars, base62) lives in `new`.
 * Public ids are friendly: `run_<id>`, `batch_<id>`, `waitpoint_<id>`.
 */
import { InvalidIdError } from "./errors.ts";

export type Residency = "legacy" | "new";
export type IdKind = "run" | "batch" | "waitpoint" | "suite";

const BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz";
// ASCII order, so ksuids sort as strings in the order they were minted (to the second).
const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const KSUID_EPOCH_SECONDS = 1_400_000_000;
const CUID = /^c[a-z0-9]{24}$/;
const KSUID = /^[0-9A-Za-z]{27}$/;

function randomBase36(length: number): string {
  // 32-bit draws: the modulo bias over 36 symbols is below 1e-8.
  return Array.from(crypto.getRandomValues(new Uint32Array(length)), (n) => BASE36[n % 36]).join("");
}

/** `c` + 8 chars of millisecond time (so ids sort roughly by creation) + 16 random chars. */
export function mintCuid(now = Date.now()): string {
  return `c${now.toString(36).padStart(8, "0").slice(-8)}${randomBase36(16)}`;
}

/** A KSUID: 4 bytes of seconds since 2014-05-13 + 16 random bytes, as 27 base62 chars. */
export function mintKsuid(now = Date.now()): string {
  const bytes = new Uint8Array(20);
  new DataView(bytes.buffer).setUint32(0, Math.floor(now / 1000) - KSUID_EPOCH_SECONDS);
  crypto.getRandomValues(bytes.subarray(4));
  let value = 0n;
  for (const byte of bytes) value = (value << 8n) | BigInt(byte);
  let out = "";
  for (let i = 0; i < 27; i++) {
    out = BASE62[Number(value % 62n)] + out;
    value /= 62n;
  }
  return out;
}

export function mintId(residency: Residency): string {
  return residency === "new" ? mintKsuid() : mintCuid();
}

/** The store an id lives in, or undefined when its shape is neither a cuid nor a ksuid. */
export function residencyOf(id: string): Residency | undefined {
  if (CUID.test(id)) return "legacy";
  if (KSUID.test(id)) return "new";
  return undefined;
}

export function toFriendlyId(kind: IdKind, id: string): string {
  return `${kind}_${id}`;
}

/** `run_<cuid|ksuid>` → the internal id and its store; anything else is an InvalidIdError (HTTP 400). */
export function parseFriendlyId(kind: IdKind, friendlyId: string): { id: string; residency: Residency } {
  const prefix = `${kind}_`;
  const id = friendlyId.startsWith(prefix) ? friendlyId.slice(prefix.length) : "";
  const residency = residencyOf(id);
  if (!residency || ((kind === "waitpoint" || kind === "suite") && residency !== "legacy")) {
    throw new InvalidIdError(
      `"${friendlyId.slice(0, 80)}" is not a ${kind} id (expected ${prefix} followed by a cuid or ksuid)`,
    );
  }
  return { id, residency };
}
