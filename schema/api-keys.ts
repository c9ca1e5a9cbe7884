/**
 * Environment secret keys: `fc_<environment slug>_<random><checksum>`. Only a SHA-256 of the key is stored, so
 * the Worker authenticates by hashing what it is given and looking the hash up. The checksum (8 hex characters
 * of a SHA-256 of the rest) lets the Worker refuse typos and made-up keys without asking a database.
 * WebCrypto: runs in both runtimes.
 */
import { hex, sha256Hex } from "./digest.ts";

const CHECKSUM_LENGTH = 8;

const checksum = async (body: string) => (await sha256Hex(body)).slice(0, CHECKSUM_LENGTH);

export async function mintApiKey(environmentSlug: string): Promise<string> {
  const body = `fc_${environmentSlug}_${hex(crypto.getRandomValues(new Uint8Array(24)))}`;
  return body + (await checksum(body));
}

/** Whether the key ends in the checksum of the rest: a key we minted, intact. Says nothing of whether it is known. */
export async function hasValidChecksum(key: string): Promise<boolean> {
  const body = key.slice(0, -CHECKSUM_LENGTH);
  return key.length > CHECKSUM_LENGTH && key.slice(-CHECKSUM_LENGTH) === (await checksum(body));
}

export const hashApiKey = (key: string): Promise<string> => sha256Hex(key);

/** What a person sees to tell keys apart: the slug and the first random characters. */
export function apiKeyPrefix(key: string): string {
  return key.slice(0, key.lastIndexOf("_") + 5);
}
