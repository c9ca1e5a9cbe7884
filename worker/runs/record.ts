/**
 * Phase 1 of creating a run (DESIGN §2.1, §11): validate, then one statement on the control plane checks the key
 * in legacy and admits the run in the admissions ledger as ACTIVE (a slot is free and nothing is queued) or
 * QUEUED; the run is written next, in its own store, as PENDING or QUEUED. A run that lives in legacy (split
 * off, or a legacy run's child) is written by that same statement: one round trip. A delayed run is written DELAYED and
 * admitted when its time comes. Nothing leaves the databases here; dispatch is phase 2.
 */
import type * as z from "../../schema/zod.ts";
import type { TriggerOptions, batchTriggerBodySchema, triggerBodySchema } from "../../schema/api.ts";
import { INTERNAL_TASK_PAYLOADS } from "../../schema/spec-suites.ts";
import { TASK_PAYLOADS, isKnownTask } from "../../schema/tasks.ts";
import { ProblemError, notFound } from "../problem.ts";
import type { AuthenticatedEnvironment } from "../store/control-plane-store.ts";
import { parseFriendlyId, residencyOf } from "../store/ids.ts";
import type { Batch, Created, NewBatch, NewBatchItem, NewRun, Owner, Run } from "../store/run-store.ts";
import type { EngineDeps } from "./deps.ts";
import { admittedFields, reconcileQueued, releaseAndPromote } from "./promote.ts";

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

/**
 * The task must be one the executor runs (404 otherwise) and the payload must fit it (422). Internal tasks
 * (a repository suite's setup run) are only for the engine's own callers, never a client's trigger.
 */
export function parsePayload(
  task: string,
  payload: unknown,
  path: (string | number)[] = ["payload"],
  internalTasks = false,
): unknown {
  const schema = isKnownTask(task)
    ? TASK_PAYLOADS[task]
    : internalTasks && Object.hasOwn(INTERNAL_TASK_PAYLOADS, task)
      ? INTERNAL_TASK_PAYLOADS[task as keyof typeof INTERNAL_TASK_PAYLOADS]
      : undefined;
  if (!schema)
    throw new ProblemError({ status: 404, title: "Unknown task", detail: `No task named "${task.slice(0, 100)}"` });
  const parsed = schema.safeParse(payload);
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

function runFields(
  task: string,
  payload: unknown,
  options: Omit<TriggerOptions, "parentRunId"> = {},
  now = Date.now(),
) {
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
 * Writes what the ledger admitted. If the write fails, or an idempotency key makes it answer with an earlier
 * record, the ledger rows are released (else the sweep releases them: their runs are missing). QUEUED runs are
 * then reconciled with the ledger: a promotion may have flipped their rows before they existed.
 */
async function writeAdmitted<T>(
  deps: EngineDeps,
  organizationId: string,
  runIds: string[],
  write: () => Promise<Created<T>>,
  reconcile: (record: T) => Promise<T>,
): Promise<Created<T>> {
  let created: Created<T>;
  try {
    created = await write();
  } catch (error) {
    await releaseAndPromote(deps, organizationId, runIds).catch(() => {});
    throw error;
  }
  if (created.isCached) {
    await releaseAndPromote(deps, organizationId, runIds);
    return created;
  }
  return { record: await reconcile(created.record), isCached: false };
}

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
  const input: NewRun = {
    ...ownerOf(environment),
    ...runFields(task, payload, options, now),
    parentRunId,
    status: "PENDING",
  };
  const { idempotencyKey: key } = input;

  if (input.delayUntil) {
    const cached = key && (await deps.runs.findRunByIdempotencyKey({ ...input, idempotencyKey: key }));
    if (cached) return { record: cached, isCached: true };
    return deps.runs.createRun({ ...input, status: "DELAYED" });
  }
  const id = deps.runs.newRunId(parentRunId);
  // A run that lives beside the ledger is admitted and written in one statement. Undefined when the key's index
  // refused it: a trigger with the same key won meanwhile, or an expired run holds it; the path below sorts it out.
  if (residencyOf(id) === "legacy") {
    const written = await deps.admissions.admitLegacyRun({ ...input, id });
    if (written) return written;
  }
  // One statement checks the key in legacy and admits; the run's own store checks it again as it inserts.
  const { admitted, heldRunId } = await deps.admissions.admit({
    organizationId: environment.organizationId,
    runs: [{ runId: id, residency: residencyOf(id)! }],
    idempotency: key ? { environmentId: environment.environmentId, task, key } : undefined,
  });
  const held = heldRunId && (await deps.runs.loadRun(heldRunId));
  if (held) return { record: held, isCached: true };
  return writeAdmitted(
    deps,
    environment.organizationId,
    [id],
    () => deps.runs.createRun({ ...input, id, ...admittedFields(admitted[0]!) }, { legacyKeyChecked: true }),
    async (run) => (await reconcileQueued(deps, [run]))[0]!,
  );
}

/** `origin` carries what a suite run started by GitHub needs to report back (repository, SHA, installation). */
export async function createBatchRecord(
  deps: EngineDeps,
  environment: Owner,
  body: BatchTriggerBody,
  origin: Omit<NewBatch, keyof Owner | "parentRunId" | "idempotencyKey" | "idempotencyKeyExpiresAt"> = {},
  { internalTasks = false } = {},
): Promise<Created<{ batch: Batch; runs: Run[] }>> {
  const now = Date.now();
  const items = body.items.map((item, index) => ({
    ...runFields(
      item.task,
      parsePayload(item.task, item.payload, ["items", index, "payload"], internalTasks),
      item.options,
      now,
    ),
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
  const immediate = items.flatMap((item) => (item.delayUntil ? [] : [deps.runs.newRunId(parentRunId)]));
  const { admitted } = immediate.length
    ? await deps.admissions.admit({
        organizationId: environment.organizationId,
        runs: immediate.map((runId) => ({ runId, residency: residencyOf(runId)! })),
      })
    : { admitted: [] };
  let next = 0;
  const admittedItems: NewBatchItem[] = items.map((item) => {
    if (item.delayUntil) return { ...item, status: "DELAYED" };
    const admission = admitted[next++]!;
    return { ...item, id: admission.runId, ...admittedFields(admission) };
  });
  return writeAdmitted(
    deps,
    environment.organizationId,
    immediate,
    () => deps.runs.createBatch(batch, admittedItems),
    async ({ batch, runs }) => ({ batch, runs: await reconcileQueued(deps, runs) }),
  );
}
