/**
 * Scrubbing a suite's secret values from what we store (issue #17): the executor scrubs every report before it
 * sends it, and the Worker scrubs a repository test's completion again before it writes it. A value is
 * replaced wherever it appears, as written and as JSON escapes it (an error message quoting a JSON body).
 */
export const SCRUBBED = "***";

/** A function giving `value` back with every secret in its strings (deeply) replaced by `***`. */
export function secretScrubber(secrets: Iterable<string>): <T>(value: T) => T {
  const needles = [...new Set([...secrets].flatMap((secret) => [secret, JSON.stringify(secret).slice(1, -1)]))]
    .filter((needle) => needle.length > 0)
    // Longest first: a secret that contains another is replaced whole.
    .sort((a, b) => b.length - a.length);
  const scrubText = (text: string) => needles.reduce((scrubbed, needle) => scrubbed.replaceAll(needle, SCRUBBED), text);
  const scrub = (value: unknown): unknown => {
    if (typeof value === "string") return scrubText(value);
    if (Array.isArray(value)) return value.map(scrub);
    if (value && typeof value === "object" && !ArrayBuffer.isView(value))
      return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, scrub(item)]));
    return value;
  };
  return needles.length === 0 ? (value) => value : (value) => scrub(value) as typeof value;
}
