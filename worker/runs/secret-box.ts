/**
 * Suite secrets at rest (issue #17): each value sealed with AES-256-GCM under a key derived (HKDF-SHA-256)
 * from the Worker's SIGNING_SECRET, with the suite id and the secret's name as additional data, so a database
 * dump alone reveals no value and a sealed value copied to another suite or name does not open. Loaded with
 * `await import()` by the two routes that seal or open secrets.
 */
const encoder = new TextEncoder();
const VERSION = "v1";

/** The same key for the same SIGNING_SECRET; the info string keeps it apart from every other use of it. */
async function secretsKey(signingSecret: string): Promise<CryptoKey> {
  const material = await crypto.subtle.importKey("raw", encoder.encode(signingSecret), "HKDF", false, ["deriveKey"]);
  return crypto.subtle.deriveKey(
    { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(), info: encoder.encode("flightcheck suite secrets v1") },
    material,
    { name: "AES-GCM", length: 256 },
    false,
    ["encrypt", "decrypt"],
  );
}

const additionalData = (suiteId: string, name: string) => encoder.encode(`${suiteId}\u0000${name}`);

/** NAME → `v1.<base64 of iv ‖ ciphertext>`; a null value stays null (a patch removing that secret). */
export async function sealSecrets<V extends string | null>(
  signingSecret: string,
  suiteId: string,
  secrets: Record<string, V>,
): Promise<Record<string, V>> {
  const key = await secretsKey(signingSecret);
  const sealed = await Promise.all(
    Object.entries(secrets).map(async ([name, value]) => {
      if (value === null) return [name, value] as const;
      const iv = crypto.getRandomValues(new Uint8Array(12));
      const aad = additionalData(suiteId, name);
      const cipher = await crypto.subtle.encrypt(
        { name: "AES-GCM", iv, additionalData: aad },
        key,
        encoder.encode(value),
      );
      const bytes = new Uint8Array([...iv, ...new Uint8Array(cipher)]);
      return [name, `${VERSION}.${btoa(String.fromCharCode(...bytes))}`] as const;
    }),
  );
  return Object.fromEntries(sealed) as Record<string, V>;
}

/** The values of a suite's sealed secrets; one that does not open (another key, tampered) is an error. */
export async function openSecrets(
  signingSecret: string,
  suiteId: string,
  sealed: Record<string, string>,
): Promise<Record<string, string>> {
  const key = await secretsKey(signingSecret);
  const opened = await Promise.all(
    Object.entries(sealed).map(async ([name, value]) => {
      const bytes = Uint8Array.from(atob(value.slice(VERSION.length + 1)), (char) => char.charCodeAt(0));
      const plain = await crypto.subtle.decrypt(
        { name: "AES-GCM", iv: bytes.slice(0, 12), additionalData: additionalData(suiteId, name) },
        key,
        bytes.slice(12),
      );
      return [name, new TextDecoder().decode(plain)] as const;
    }),
  );
  return Object.fromEntries(opened);
}
