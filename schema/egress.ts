/**
 * The egress policy (DESIGN §11): which addresses browsers and http-checks may reach. Loopback, private, link-local
 * (cloud metadata), unique-local, multicast and reserved ranges, v4 and v6, also when embedded in IPv6 (mapped,
 * NAT64, 6to4), are refused unless the deployment opts in. Pure code, shared: the executor applies it to every
 * resolved address at connect time; the Worker applies it to literal addresses in URLs it is given.
 */

type Range = { bytes: number[]; bits: number; kind: string };

const v4 = (cidr: string, kind: string): Range => {
  const [address, bits] = cidr.split("/");
  return { bytes: address!.split(".").map(Number), bits: Number(bits), kind };
};

const IPV4_REFUSED: Range[] = [
  v4("0.0.0.0/8", "unspecified"),
  v4("10.0.0.0/8", "private"),
  v4("100.64.0.0/10", "carrier-grade NAT"),
  v4("127.0.0.0/8", "loopback"),
  v4("169.254.0.0/16", "link-local (cloud metadata)"),
  v4("172.16.0.0/12", "private"),
  v4("192.0.0.0/24", "reserved"),
  v4("192.168.0.0/16", "private"),
  v4("198.18.0.0/15", "reserved"),
  v4("224.0.0.0/4", "multicast"),
  v4("240.0.0.0/4", "reserved or broadcast"),
];

/** IPv6 ranges as 16-bit groups; an embedded IPv4 address is classified by the IPv4 table. */
const v6 = (groups: number[], bits: number, kind: string): Range => ({
  bytes: groups.flatMap((group) => [group >> 8, group & 0xff]),
  bits,
  kind,
});
const IPV6_REFUSED: Range[] = [
  v6([], 128, "unspecified"),
  v6([0, 0, 0, 0, 0, 0, 0, 1], 128, "loopback"),
  v6([0x100], 64, "discard-only"),
  v6([0x64, 0xff9b, 1], 48, "local-use NAT64"),
  v6([0xfc00], 7, "unique-local"),
  v6([0xfe80], 10, "link-local"),
  v6([0xfec0], 10, "site-local"),
  v6([0xff00], 8, "multicast"),
];
/** Prefixes whose addresses carry an IPv4 address, and the byte offset it starts at. */
const IPV4_EMBEDDED: { range: Range; offset: number }[] = [
  { range: v6([0, 0, 0, 0, 0, 0xffff], 96, "IPv4-mapped"), offset: 12 },
  { range: v6([], 96, "IPv4-compatible"), offset: 12 },
  { range: v6([0x64, 0xff9b], 96, "NAT64"), offset: 12 },
  { range: v6([0x2002], 16, "6to4"), offset: 2 },
];

/** Host names that reach cloud metadata services or the machine itself whatever DNS says. */
const REFUSED_HOSTNAMES = new Set([
  "localhost",
  "metadata",
  "metadata.google.internal",
  "metadata.goog",
  "instance-data",
  "instance-data.ec2.internal",
]);

const inRange = (bytes: number[], range: Range) =>
  range.bits <= bytes.length * 8 &&
  Array.from({ length: Math.ceil(range.bits / 8) }, (_, index) => index).every((index) => {
    const maskBits = Math.min(8, range.bits - index * 8);
    const mask = (0xff << (8 - maskBits)) & 0xff;
    return ((bytes[index] ?? 0) & mask) === ((range.bytes[index] ?? 0) & mask);
  });

/** The bytes of an IP address literal (IPv6 with or without brackets), or undefined for anything else. */
export function parseIp(literal: string): number[] | undefined {
  const text = literal.startsWith("[") && literal.endsWith("]") ? literal.slice(1, -1) : literal;
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(text)) {
    const bytes = text.split(".").map(Number);
    return bytes.every((byte) => byte <= 255) ? bytes : undefined;
  }
  if (!text.includes(":")) return undefined;
  // A trailing dotted quad (::ffff:127.0.0.1) is the last two groups.
  const dotted = /^(.*:)(\d{1,3}(?:\.\d{1,3}){3})$/.exec(text);
  const quad = dotted ? parseIp(dotted[2]!) : undefined;
  if (dotted && !quad) return undefined;
  const group = (high: number, low: number) => ((high << 8) | low).toString(16);
  const hex = quad ? `${dotted![1]}${group(quad[0]!, quad[1]!)}:${group(quad[2]!, quad[3]!)}` : text;
  const halves = hex.split("::");
  if (halves.length > 2) return undefined;
  const [head = [], tail = []] = halves.map((half) => (half === "" ? [] : half.split(":")));
  // "::" stands for at least one zero group; without it there are exactly eight.
  const missing = halves.length === 1 ? 0 : 8 - head.length - tail.length;
  if (head.length + tail.length + missing !== 8 || (halves.length === 2 && missing < 1)) return undefined;
  if ([...head, ...tail].some((hextet) => !/^[0-9a-f]{1,4}$/i.test(hextet))) return undefined;
  const hextets = [...head, ...Array<string>(missing).fill("0"), ...tail].map((hextet) => parseInt(hextet, 16));
  return hextets.flatMap((hextet) => [hextet >> 8, hextet & 0xff]);
}

/** Why the policy refuses this IP address ("10.0.0.5 is a private address"), or undefined if it may be reached. */
export function addressRefusal(address: string): string | undefined {
  const bytes = parseIp(address);
  if (!bytes) return `${address} is not an IP address`;
  const kind = refusedKind(bytes);
  return kind && `${address} is ${/^(?:[aeio]|un(?!i))/i.test(kind) ? "an" : "a"} ${kind} address`;
}

function refusedKind(bytes: number[]): string | undefined {
  if (bytes.length === 4) return IPV4_REFUSED.find((range) => inRange(bytes, range))?.kind;
  const own = IPV6_REFUSED.find((range) => inRange(bytes, range))?.kind;
  if (own) return own;
  const embedding = IPV4_EMBEDDED.find(({ range }) => inRange(bytes, range));
  if (!embedding) return undefined;
  const inner = refusedKind(bytes.slice(embedding.offset, embedding.offset + 4));
  return inner && `${embedding.range.kind} ${inner}`;
}

/** Why a host name (not an address) is refused before any lookup: the machine itself and metadata services. */
export function hostnameRefusal(hostname: string): string | undefined {
  const name = hostname.toLowerCase().replace(/\.$/, "");
  const local = REFUSED_HOSTNAMES.has(name) || name.endsWith(".localhost");
  return local ? `${hostname} is a local or cloud metadata host name` : undefined;
}

/**
 * Checks a URL the Worker is handed as a base URL (e.g. a deployment's target_url): http(s) only, and no literal
 * refused address or host name unless `allowPrivate`. Names are resolved and checked again by the executor.
 */
export function targetUrlRefusal(url: string, { allowPrivate }: { allowPrivate: boolean }): string | undefined {
  const parsed = URL.parse(url);
  if (!parsed || (parsed.protocol !== "http:" && parsed.protocol !== "https:")) return `${url} is not an http(s) URL`;
  if (allowPrivate) return undefined;
  const refusal = parseIp(parsed.hostname) ? addressRefusal(parsed.hostname) : hostnameRefusal(parsed.hostname);
  return refusal && `refused by egress policy: ${refusal}`;
}
