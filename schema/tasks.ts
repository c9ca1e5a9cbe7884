/**
 * The tasks the executor can run and the payload each takes (DESIGN §8). A trigger for any other task is a
 * 404; a payload that does not fit is a 422 at trigger time, not a failed run later.
 */
import * as z from "./zod.ts";
import { caseSchema } from "./steps.ts";

export const httpCheckPayloadSchema = z.strictObject({
  url: z.url({ protocol: /^https?$/ }),
  method: z._default(z.enum(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]), "GET"),
  expectStatus: z._default(z.int().check(z.minimum(100), z.maximum(599)), 200),
  expectBodyContains: z.optional(z.string().check(z.maxLength(10_000))),
  timeoutMs: z._default(z.int().check(z.minimum(100), z.maximum(120_000)), 10_000),
});
export type HttpCheckPayload = z.infer<typeof httpCheckPayloadSchema>;

export const browserCasePayloadSchema = z.strictObject({
  case: caseSchema,
  baseUrl: z.url({ protocol: /^https?$/ }),
});
export type BrowserCasePayload = z.infer<typeof browserCasePayloadSchema>;

export const TASK_PAYLOADS = {
  "http-check": httpCheckPayloadSchema,
  "browser-case": browserCasePayloadSchema,
} as const;

export type TaskName = keyof typeof TASK_PAYLOADS;

export const isKnownTask = (task: string): task is TaskName => Object.hasOwn(TASK_PAYLOADS, task);

/** The executor's answer to an http-check (POST /http-checks); `retryable` failures are worth another attempt. */
export const httpCheckResultSchema = z.discriminatedUnion("ok", [
  z.object({ ok: z.literal(true), output: z.object({ status: z.int(), durationMs: z.number() }) }),
  z.object({
    ok: z.literal(false),
    retryable: z.boolean(),
    error: z.object({ message: z.string(), status: z.optional(z.int()) }),
  }),
]);
export type HttpCheckResult = z.infer<typeof httpCheckResultSchema>;
