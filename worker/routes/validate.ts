/** zod at the edge: a body or query that does not fit is a 422 problem listing the issues. */
import { zValidator } from "@hono/zod-validator";
import type { ValidationTargets } from "hono";
import { bodyLimit } from "hono/body-limit";
import type * as z from "../../schema/zod.ts";
import { problemResponse } from "../problem.ts";

export const validate = <Target extends keyof ValidationTargets, Schema extends z.ZodMiniType>(
  target: Target,
  schema: Schema,
) =>
  zValidator(target, schema, (result) => {
    if (result.success) return;
    const first = result.error.issues[0];
    return problemResponse({
      status: 422,
      title: "Invalid request",
      detail: first ? `${first.path.join(".") || target}: ${first.message}` : undefined,
      errors: result.error.issues,
    });
  });

/** Bodies over `maxSize` bytes are a 413 problem, checked before they are read. */
export const limitBody = (maxSize: number) =>
  bodyLimit({
    maxSize,
    onError: () =>
      problemResponse({ status: 413, title: "Request body too large", detail: `The limit is ${maxSize} bytes` }),
  });
