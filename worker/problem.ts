/** The Worker's side of problem+json (schema/problem.ts): errors domain code throws for the app to render. */
import type { Problem } from "../schema/problem.ts";

export { type Problem, problemResponse } from "../schema/problem.ts";

/** Thrown by domain code for an answer that is the client's to fix (404, 409, 422…); the app renders it. */
export class ProblemError extends Error {
  readonly problem: Problem;

  constructor(problem: Problem) {
    super(problem.detail ?? problem.title);
    this.problem = problem;
  }
}

export const notFound = (what: string) =>
  new ProblemError({ status: 404, title: "Not found", detail: `${what} not found` });
