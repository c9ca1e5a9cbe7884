/**
 * The `RunStore` contract, one suite run against each database a run can live in (as Hono runs one suite
 * against every router): with the split off every record is written to legacy (cuid), with it on root runs go
 * to run-ops (ksuid). Whatever differs between the two is a bug in one of them.
 */
import { describe, expect, it } from "vitest";
import { residencyOf } from "../../../worker/store/ids.ts";
import { SPLIT_OFF, SPLIT_ON, newOwner, withStore } from "./support.ts";

const run = { task: "browser-case", status: "PENDING" as const, payload: { case: "checkout" } };

describe.each([
  ["legacy", SPLIT_OFF],
  ["new", SPLIT_ON],
] as const)("RunStore on %s", (residency, settings) => {
  const inStore = <T>(use: Parameters<typeof withStore<T>>[1]) => withStore(settings, use);

  it("writes a run where it belongs and reads it back, scoped to its environment", async () => {
    const owner = newOwner();
    await inStore(async (store) => {
      const { record, isCached } = await store.createRun({ ...owner, ...run, tags: ["smoke"] });
      expect(isCached).toBe(false);
      expect(residencyOf(record.id)).toBe(residency);
      expect(await store.findRun(owner.environmentId, record.id, { fresh: true })).toMatchObject({
        status: "PENDING",
        tags: ["smoke"],
      });
      expect((await store.loadRun(record.id))?.payload).toEqual(run.payload);
      expect(await store.findRun(newOwner().environmentId, record.id)).toBeUndefined();
    });
  });

  it("changes a run only from the statuses and at the attempt the caller names (compare-and-set)", async () => {
    const owner = newOwner();
    await inStore(async (store) => {
      const { record } = await store.createRun({ ...owner, ...run });
      expect(await store.updateRun(record.id, { status: "EXECUTING", attempt: 1 }, ["QUEUED"])).toBeUndefined();
      expect(await store.updateRun(record.id, { status: "EXECUTING", attempt: 1 }, ["PENDING"], 0)).toMatchObject({
        attempt: 1,
      });
      expect(await store.updateRun(record.id, { status: "COMPLETED" }, ["EXECUTING"], 0)).toBeUndefined();
      expect(await store.updateRun(record.id, { status: "COMPLETED" }, ["EXECUTING"], 1)).toMatchObject({
        status: "COMPLETED",
      });
    });
  });

  it("deduplicates on an idempotency key per environment and task, and a failed run gives its key back", async () => {
    const owner = newOwner();
    await inStore(async (store) => {
      const first = await store.createRun({ ...owner, ...run, idempotencyKey: "k" });
      expect(await store.createRun({ ...owner, ...run, idempotencyKey: "k" })).toMatchObject({
        isCached: true,
        record: { id: first.record.id },
      });
      expect((await store.createRun({ ...owner, ...run, task: "http-check", idempotencyKey: "k" })).isCached).toBe(
        false,
      );
      await store.updateRun(first.record.id, { status: "FAILED", completedAt: new Date() });
      expect((await store.createRun({ ...owner, ...run, idempotencyKey: "k" })).isCached).toBe(false);
    });
  });

  it("writes a batch and its items together, and its children beside their parent", async () => {
    const owner = newOwner();
    await inStore(async (store) => {
      const parent = await store.createRun({ ...owner, ...run });
      const { record } = await store.createBatch({ ...owner, parentRunId: parent.record.id }, [run, run]);
      expect([record.batch.id, ...record.runs.map((item) => item.id)].map(residencyOf)).toEqual([
        residency,
        residency,
        residency,
      ]);
      const found = await store.findBatch(owner.environmentId, record.batch.id, { fresh: true });
      expect(found?.runs.map((item) => item.batchId)).toEqual([record.batch.id, record.batch.id]);
      await store.updateBatch(record.batch.id, { checkRunId: 42 });
      expect((await store.loadBatch(record.batch.id))?.checkRunId).toBe(42);
      const child = await store.createRun({ ...owner, ...run, parentRunId: parent.record.id });
      // The batch's items are the parent's children too.
      const children = (await store.findChildren(parent.record.id)).map((item) => item.id).sort();
      expect(children).toEqual([child.record.id, ...record.runs.map((item) => item.id)].sort());
    });
  });

  it("marks a batch's PENDING items dispatched together, and leaves a run that moved on as it is", async () => {
    const owner = newOwner();
    await inStore(async (store) => {
      const { record } = await store.createBatch(owner, [run, run, run]);
      const [first, second, third] = record.runs;
      await store.updateRun(third!.id, { status: "CANCELED", completedAt: new Date() });
      const dispatchedAt = new Date();
      const marked = await store.markDispatched([first!.id, second!.id, third!.id], dispatchedAt);
      expect(marked.map((item) => item.id).sort()).toEqual([first!.id, second!.id].sort());
      const found = await store.findBatch(owner.environmentId, record.batch.id, { fresh: true });
      expect(found?.runs.map((item) => item.dispatchedAt)).toEqual([dispatchedAt, dispatchedAt, null]);
    });
  });

  it("appends a recorder's runs to its batch once, however many of its calls race beside another's", async () => {
    const owner = newOwner();
    await inStore(async (store) => {
      const { record } = await store.createBatch(owner, [run, run]);
      const recorders = record.runs.map((item) => item.id);
      const test = { task: "spec-test", status: "EXECUTING" as const, attempt: 1, payload: {} };
      const calls = recorders.flatMap((recorder) =>
        Array.from({ length: 10 }, () => store.appendToBatch(record.batch, recorder, [test, test])),
      );
      expect((await Promise.all(calls)).filter(Boolean)).toHaveLength(2);
      const found = await store.findBatch(owner.environmentId, record.batch.id, { fresh: true });
      expect(found?.batch.runCount).toBe(6);
      expect(found?.runs.map((item) => item.batchIndex)).toEqual([0, 1, 2, 3, 4, 5]);
      const recordedBy = found?.runs.slice(2).map((item) => (item.metadata as { recordedBy: string }).recordedBy);
      expect(recordedBy?.sort()).toEqual([...recorders, ...recorders].sort());
    });
  });

  it("keeps one attempt's step results, replaced by a later report of the same attempt", async () => {
    const owner = newOwner();
    await inStore(async (store) => {
      const { record } = await store.createRun({ ...owner, ...run });
      const step = { index: 0, action: "goto", status: "FAILED" as const, error: "timeout" };
      await store.recordSteps(record.id, 1, [step]);
      await store.recordSteps(record.id, 1, [{ ...step, status: "PASSED", error: null }]);
      expect(await store.listSteps(record.id)).toMatchObject([{ attempt: 1, index: 0, status: "PASSED" }]);
    });
  });

  it("blocks a run on a waitpoint beside it, and the first completion wins", async () => {
    const owner = newOwner();
    await inStore(async (store) => {
      const { record } = await store.createRun({ ...owner, ...run, status: "EXECUTING" });
      const { record: token } = await store.createWaitpoint({ ...owner, type: "TOKEN", ownerRunId: record.id });
      await store.replaceBlockers(record.id, [token.id]);
      await store.updateRun(record.id, { status: "WAITING" });
      expect((await store.findRunsBlockedBy(token.id)).map((blocked) => blocked.id)).toEqual([record.id]);
      const result = { status: "COMPLETED" as const, outputIsError: false };
      const first = await store.completeWaitpoint(owner.environmentId, token.id, { ...result, output: "first" });
      const second = await store.completeWaitpoint(owner.environmentId, token.id, { ...result, output: "second" });
      expect(first).toMatchObject({ completedNow: true, waitpoint: { output: "first" } });
      expect(second).toMatchObject({ completedNow: false, waitpoint: { output: "first" } });
      expect(await store.findBlockers(record.id)).toMatchObject([{ id: token.id, status: "COMPLETED" }]);
    });
  });

  it("lists an environment's runs newest first, filtered", async () => {
    const owner = newOwner();
    await inStore(async (store) => {
      const older = await store.createRun({ ...owner, ...run, tags: ["a"] });
      const newer = await store.createRun({ ...owner, ...run, task: "http-check", tags: ["b"] });
      const all = await store.listRuns(owner.environmentId, {}, { limit: 10 });
      expect(all.data.map((item) => item.id)).toEqual([newer.record.id, older.record.id]);
      const tagged = await store.listRuns(owner.environmentId, { tag: "a" }, { limit: 10 });
      expect(tagged.data.map((item) => item.id)).toEqual([older.record.id]);
    });
  });
});
