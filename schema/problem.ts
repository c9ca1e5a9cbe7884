/**
 * Errors as application/problem+json (RFC 9457): `{ type, title, status, detail, errors? }` plus extensions.
 * The Worker and the executor answer every error this way.
 */
export interface Problem {
  status: number;
  title: string;
  detail?: string;
  errors?: unknown;
  [extension: string]: unknown;
}

export function problemResponse({ status, title, ...rest }: Problem, headers?: Record<string, string>): Response {
  const body = { type: `https://flightcheck.dev/problems/${status}`, title, status, ...rest };
  return new Response(JSON.stringify(body), {
    status,
    headers: { ...headers, "content-type": "application/problem+json" },
  });
}
