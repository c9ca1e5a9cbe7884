/**
 * Waitpoint tokens (DESIGN §4): created through the API, completed through the API or a callback URL.
 * Completing is idempotent: the first output wins. A token past its timeout is completed as TIMED_OUT with
 * `{ ok: false }` the first time anyone looks at it or tries to complete it.
 */
import { toFriendlyId } from "../store/ids.ts";
import type { AuthenticatedEnvironment } from "../store/control-plane-store.ts";
import type { Created, Waitpoint } from "../store/run-store.ts";
import type { EngineDeps } from "./deps.ts";
import { idempotencyExpiry, ownerOf } from "./record.ts";

const TIMED_OUT = { status: "TIMED_OUT" as const, output: { ok: false }, outputIsError: true };

export function createToken(
  deps: EngineDeps,
  environment: AuthenticatedEnvironment,
  { timeout, idempotencyKey, tags }: { timeout?: Date; idempotencyKey?: string; tags?: string[] },
): Promise<Created<Waitpoint>> {
  return deps.runs.createWaitpoint({
    ...ownerOf(environment),
    type: "TOKEN",
    timeoutAt: timeout,
    idempotencyKey,
    idempotencyKeyExpiresAt: idempotencyExpiry(idempotencyKey),
    tags,
  });
}

/** The token as it stands now: a WAITING token past its timeout times out on the way. */
export async function readToken(deps: EngineDeps, environmentId: string, id: string): Promise<Waitpoint | undefined> {
  const waitpoint = await deps.runs.findWaitpoint(environmentId, id);
  if (waitpoint?.status === "WAITING" && waitpoint.timeoutAt && waitpoint.timeoutAt <= new Date()) {
    return deps.runs.completeWaitpoint(environmentId, id, TIMED_OUT);
  }
  return waitpoint;
}

/** Completes the token with `output` unless something (a completion, its timeout) got there first. */
export async function completeToken(deps: EngineDeps, environmentId: string, id: string, output: unknown): Promise<Waitpoint | undefined> {
  const current = await readToken(deps, environmentId, id);
  if (!current || current.status !== "WAITING") return current;
  return deps.runs.completeWaitpoint(environmentId, id, { status: "COMPLETED", output, outputIsError: false });
}

export const presentToken = (waitpoint: Waitpoint) => ({
  id: toFriendlyId("waitpoint", waitpoint.id),
  status: waitpoint.status,
  output: waitpoint.output,
  outputIsError: waitpoint.outputIsError,
  tags: waitpoint.tags,
  createdAt: waitpoint.createdAt.toISOString(),
  completedAt: waitpoint.completedAt?.toISOString() ?? null,
  timeoutAt: waitpoint.timeoutAt?.toISOString() ?? null,
});
