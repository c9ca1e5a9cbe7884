/** Errors as application/problem+json (RFC 9457): `{ type, title, status, detail, errors? }` plus extensions. */
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

/** Thrown by domain code for an answer that is the client's to fix (404, 409, 422…); the app renders it. */
export class ProblemError extends Error {
  readonly problem: Problem;

  constructor(problem: Problem) {
    super(problem.detail ?? problem.title);
    this.problem = problem;
  }
}

export const notFound = (what: string) => new ProblemError({ status: 404, title: "Not found", detail: `${what} not found` });
