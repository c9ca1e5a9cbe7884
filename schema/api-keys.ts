/**
 * Environment secret keys: `fc_<environment slug>_<random>`. Only a SHA-256 of the key is stored, so the
 * Worker authenticates by hashing what it is given and looking the hash up. WebCrypto: runs in both runtimes.
 */
export function mintApiKey(environmentSlug: string): string {
  const random = Array.from(crypto.getRandomValues(new Uint8Array(24)), (b) => b.toString(16).padStart(2, "0")).join("");
  return `fc_${environmentSlug}_${random}`;
}

export async function hashApiKey(key: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(key));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** What a person sees to tell keys apart: the slug and the first random characters. */
export function apiKeyPrefix(key: string): string {
  return key.slice(0, key.lastIndexOf("_") + 5);
}
