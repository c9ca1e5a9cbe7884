/**
 * Internal ids. Their shape names the store that owns a row (DESIGN §3): a cuid (25 chars, `c` + 24 of
 * [a-z0-9]) lives in `legacy`.
 */
const BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz";

function randomBase36(length: number): string {
  // 32-bit draws: the modulo bias over 36 symbols is below 1e-8.
  return Array.from(crypto.getRandomValues(new Uint32Array(length)), (n) => BASE36[n % 36]).join("");
}

/** `c` + 8 chars of millisecond time (so ids sort roughly by creation) + 16 random chars. */
export function mintCuid(now = Date.now()): string {
  return `c${now.toString(36).padStart(8, "0").slice(-8)}${randomBase36(16)}`;
}
