/**
 * Phase 1 of creating a run (DESIGN §2.1): validate, resolve residency and idempotency, and record the run
 * under its organisation's lock as PENDING (a slot is free), QUEUED (the organisation is at its limit) or
 * DELAYED. Nothing leaves the databases here; dispatch is phase 2.
 */
import type * as z from "../../schema/zod.ts";
import type { TriggerOptions, batchTriggerBodySchema, triggerBodySchema } from "../../schema/api.ts";
import { TASK_PAYLOADS, isKnownTask } from "../../schema/tasks.ts";
import { ProblemError, notFound } from "../problem.ts";
import type { AuthenticatedEnvironment } from "../store/control-plane-store.ts";
import { parseFriendlyId } from "../store/ids.ts";
import type { Batch, Created, NewBatch, NewBatchItem, NewRun, Owner, Run } from "../store/run-store.ts";
import type { EngineDeps } from "./deps.ts";

const DEFAULT_IDEMPOTENCY_TTL_MS = 30 * 86_400_000;

/** When an idempotency key stops deduplicating: its TTL (default 30 days) from now; nothing without a key. */
export const idempotencyExpiry = (key: string | undefined, ttlMs = DEFAULT_IDEMPOTENCY_TTL_MS, now = Date.now()) =>
  key ? new Date(now + ttlMs) : undefined;

export type TriggerBody = z.infer<typeof triggerBodySchema>;
export type BatchTriggerBody = z.infer<typeof batchTriggerBodySchema>;

export const ownerOf = ({ organizationId, projectId, environmentId }: Owner): Owner => ({
  organizationId,
  projectId,
  environmentId,
});

/** The task must be one the executor runs (404 otherwise) and the payload must fit it (422). */
export function parsePayload(task: string, payload: unknown, path: (string | number)[] = ["payload"]): unknown {
  if (!isKnownTask(task)) throw new ProblemError({ status: 404, title: "Unknown task", detail: `No task named "${task.slice(0, 100)}"` });
  const parsed = TASK_PAYLOADS[task].safeParse(payload);
  if (parsed.success) return parsed.data;
  throw new ProblemError({
    status: 422,
    title: "Invalid payload",
    detail: `The payload does not fit the ${task} task`,
    errors: parsed.error.issues.map((issue) => ({ ...issue, path: [...path, ...issue.path] })),
  });
}

/** The parent run, which must exist in the caller's environment; its store is the child's store. */
async function resolveParent(deps: EngineDeps, environment: Owner, friendlyId: string): Promise<string> {
  const { id } = parseFriendlyId("run", friendlyId);
  const parent = await deps.runs.findRun(environment.environmentId, id, { fresh: true });
  if (!parent) throw notFound(`Parent run ${friendlyId}`);
  return id;
}

function runFields(task: string, payload: unknown, options: Omit<TriggerOptions, "parentRunId"> = {}, now = Date.now()) {
  const { idempotencyKey, idempotencyKeyTTL, delay, ttl, tags, metadata, maxAttempts } = options;
  return {
    task,
    payload,
    tags,
    metadata,
    maxAttempts,
    idempotencyKey,
    idempotencyKeyExpiresAt: idempotencyExpiry(idempotencyKey, idempotencyKeyTTL, now),
    delayUntil: delay && delay.getTime() > now ? delay : undefined,
    expiresAt: ttl ? new Date(now + ttl) : undefined,
  };
}

/**
 * Decides PENDING or QUEUED for `count` new runs under the organisation's lock and lets `write` record them
 * before the lock is released, so concurrent admissions can never exceed the limit.
 */
export function admit<T>(
  deps: EngineDeps,
  organizationId: string,
  count: number,
  write: (statuses: ("PENDING" | "QUEUED")[]) => Promise<T>,
): Promise<T> {
  return deps.controlPlane.withOrganizationLock(organizationId, async ({ concurrencyLimit, activeInLegacy }) => {
    const active = activeInLegacy + (await deps.runs.countActiveRuns(organizationId, ["new"]));
    const free = Math.max(0, concurrencyLimit - active);
    return write(Array.from({ length: count }, (_, i) => (i < free ? "PENDING" : "QUEUED")));
  });
}

/** Queue order is (queuedAt, id); items queued together keep their given order one millisecond apart. */
const queuedAt = (now: number, position: number) => new Date(now + position);

/** The timestamps an admission decision writes. */
export const admissionTimes = (status: "PENDING" | "QUEUED", now: number, position = 0) =>
  status === "QUEUED" ? { queuedAt: queuedAt(now, position), admittedAt: null } : { queuedAt: null, admittedAt: new Date(now) };

export async function createRunRecord(
  deps: EngineDeps,
  environment: AuthenticatedEnvironment,
  task: string,
  body: TriggerBody,
): Promise<Created<Run>> {
  const payload = parsePayload(task, body.payload);
  const { parentRunId: parentFriendlyId, ...options } = body.options ?? {};
  const parentRunId = parentFriendlyId ? await resolveParent(deps, environment, parentFriendlyId) : undefined;
  const now = Date.now();
  const input: NewRun = { ...ownerOf(environment), ...runFields(task, payload, options, now), parentRunId, status: "PENDING" };

  if (input.idempotencyKey) {
    const cached = await deps.runs.findRunByIdempotencyKey({ ...input, idempotencyKey: input.idempotencyKey });
    if (cached) return { record: cached, isCached: true };
  }
  if (input.delayUntil) return deps.runs.createRun({ ...input, status: "DELAYED" });
  return admit(deps, environment.organizationId, 1, ([status]) =>
    deps.runs.createRun({ ...input, status: status!, ...admissionTimes(status!, now) }),
  );
}

/** `origin` carries what a suite run started by GitHub needs to report back (repository, SHA, installation). */
export async function createBatchRecord(
  deps: EngineDeps,
  environment: Owner,
  body: BatchTriggerBody,
  origin: Omit<NewBatch, keyof Owner | "parentRunId" | "idempotencyKey" | "idempotencyKeyExpiresAt"> = {},
): Promise<Created<{ batch: Batch; runs: Run[] }>> {
  const now = Date.now();
  const items = body.items.map((item, index) => ({
    ...runFields(item.task, parsePayload(item.task, item.payload, ["items", index, "payload"]), item.options, now),
    status: "PENDING" as const,
  }));
  const parentRunId = body.parentRunId ? await resolveParent(deps, environment, body.parentRunId) : undefined;
  const batch = {
    ...ownerOf(environment),
    ...origin,
    parentRunId,
    idempotencyKey: body.idempotencyKey,
    idempotencyKeyExpiresAt: idempotencyExpiry(body.idempotencyKey, undefined, now),
  };
  const immediate = items.filter((item) => !item.delayUntil).length;
  return admit(deps, environment.organizationId, immediate, (statuses) => {
    let next = 0;
    const admitted: NewBatchItem[] = items.map((item) => {
      if (item.delayUntil) return { ...item, status: "DELAYED" };
      const position = next++;
      const status = statuses[position]!;
      return { ...item, status, ...admissionTimes(status, now, position) };
    });
    return deps.runs.createBatch(batch, admitted);
  });
}
