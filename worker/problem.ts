/** Errors as application/problem+json (RFC 9457): `{ type, title, status, detail, errors? }` plus extensions. */
export interface Problem {
  status: number;
  title: string;
  detail?: string;
  errors?: unknown;
  [extension: string]: unknown;
}

export function problemResponse({ status, title, ...rest }: Problem, headers?: HeadersInit): Response {
  const body = { type: `https://flightcheck.dev/problems/${status}`, title, status, ...rest };
  return new Response(JSON.stringify(body), {
    status,
    headers: { ...headers, "content-type": "application/problem+json" },
  });
}
