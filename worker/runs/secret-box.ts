/**
 * Suite secrets at rest (issue #17): each value sealed with AES-256-GCM under a key derived (HKDF-SHA-256)
 * from the Worker's SIGNING_SECRET, with the suite id and the secret's name as additional data, so a database
 * dump alone reveals no value and a sealed value copied to another suite or name does not open. Loaded with
 * `await import()` by the routes that seal or open secrets.
 */
const encoder = new TextEncoder();

/** The same key for the same SIGNING_SECRET; the info string keeps it apart from every other use of it. */
async function secretsKey(signingSecret: string): Promise<CryptoKey> {
  const material = await crypto.subtle.importKey("raw", encoder.encode(signingSecret), "HKDF", false, ["deriveKey"]);
  const info = encoder.encode("flightcheck suite secrets v1");
  const hkdf = { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(), info };
  return crypto.subtle.deriveKey(hkdf, material, { name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]);
}

/** Applies `crypt` to every non-null value of `secrets` with the key and its name's additional data. */
async function mapSecrets<V extends string | null, R>(
  signingSecret: string,
  suiteId: string,
  secrets: Record<string, V>,
  crypt: (value: string, key: CryptoKey, additionalData: Uint8Array) => Promise<R>,
): Promise<Record<string, R | Extract<V, null>>> {
  const key = await secretsKey(signingSecret);
  const entries = Object.entries(secrets).map(async ([name, value]) => [
    name,
    value === null ? value : await crypt(value, key, encoder.encode(`${suiteId}\u0000${name}`)),
  ]);
  return Object.fromEntries(await Promise.all(entries));
}

/** NAME → base64 of iv ‖ ciphertext; a null value stays null (a patch removing that secret). */
export const sealSecrets = <V extends string | null>(
  signingSecret: string,
  suiteId: string,
  secrets: Record<string, V>,
) =>
  mapSecrets(signingSecret, suiteId, secrets, async (value, key, additionalData) => {
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const cipher = await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData }, key, encoder.encode(value));
    return btoa(String.fromCharCode(...iv, ...new Uint8Array(cipher)));
  }) as Promise<Record<string, V>>;

/** The values of a suite's sealed secrets; one that does not open (another key, tampered) is an error. */
export const openSecrets = (signingSecret: string, suiteId: string, sealed: Record<string, string>) =>
  mapSecrets(signingSecret, suiteId, sealed, async (value, key, additionalData) => {
    const bytes = Uint8Array.from(atob(value), (char) => char.charCodeAt(0));
    const iv = bytes.subarray(0, 12);
    return new TextDecoder().decode(
      await crypto.subtle.decrypt({ name: "AES-GCM", iv, additionalData }, key, bytes.subarray(12)),
    );
  });
