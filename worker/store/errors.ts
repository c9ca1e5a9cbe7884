/**
 * One error language for both stores (DESIGN §3): whichever database raised it, a unique violation is a
 * ConflictError and a connection failure is a StoreUnavailableError. Routes map them to 409 and 503.
 */
import type { Residency } from "./ids.ts";

export class ConflictError extends Error {
  override name = "ConflictError";
}

export class StoreUnavailableError extends Error {
  override name = "StoreUnavailableError";
  readonly store: Residency;

  constructor(store: Residency, reason: string) {
    super(`The ${store} store is unavailable: ${reason}`);
    this.store = store;
  }
}

/** A malformed id or cursor from a client: HTTP 400, never a crash. */
export class InvalidIdError extends Error {
  override name = "InvalidIdError";
}

const SQLSTATE = /^[0-9A-Z]{5}$/;
const PROGRAMMING_ERRORS = [TypeError, RangeError, ReferenceError, SyntaxError];

function sqlState(error: unknown): string | undefined {
  for (let current = error, depth = 0; current && depth < 5; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && SQLSTATE.test(code)) return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.cause instanceof Error ? error.cause.message : error.message;
  // The WebSocket driver rejects with an ErrorEvent when it cannot reach the database.
  const message = (error as { message?: unknown })?.message;
  return typeof message === "string" && message ? message : "connection failed";
}

/** Translates what a database client threw into the store's error language. */
export function normaliseStoreError(error: unknown, store: Residency): unknown {
  if (error instanceof ConflictError || error instanceof StoreUnavailableError || error instanceof InvalidIdError)
    return error;
  const state = sqlState(error);
  if (state === "23505") return new ConflictError(`Conflict in the ${store} store: ${describe(error)}`);
  // Connection exceptions, too many connections, server shutting down or starting.
  if (state?.startsWith("08") || state?.startsWith("53") || state?.startsWith("57P")) {
    return new StoreUnavailableError(store, describe(error));
  }
  if (state) return error;
  if (PROGRAMMING_ERRORS.some((type) => error instanceof type)) return error;
  return new StoreUnavailableError(store, describe(error));
}
