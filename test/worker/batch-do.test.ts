/** A batch's object: its items' live log, its end, and the one check run its alarm keeps current. */
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { BatchDO } from "../../worker/durable/batch-do.ts";
import { mintCuid } from "../../worker/store/ids.ts";

const tracked = {
  installationId: 1,
  repository: "acme/shop",
  headSha: "a".repeat(40),
  name: "flightcheck: shop",
  detailsUrl: "https://flightcheck.test/runs/batch_x",
  environmentId: mintCuid(),
};

/** The object's alarm and its check-run row, read inside it. */
const checkRunState = (stub: DurableObjectStub<BatchDO>) =>
  runInDurableObject(stub, async (_instance: BatchDO, state) => ({
    alarm: await state.storage.getAlarm(),
    row: state.storage.sql.exec("SELECT dirty, check_run_id FROM check_run").toArray()[0],
  }));

describe("BatchDO", () => {
  it("logs its items' status changes and completes once, however many last items report", async () => {
    const batchId = mintCuid();
    const stub = env.BATCH_DO.getByName(`batch_${batchId}`);
    expect(await stub.recordItemStatus("run_one", "EXECUTING")).toBe(1);
    await Promise.all([stub.completeBatch(batchId), stub.completeBatch(batchId)]);
    expect(await stub.snapshot()).toEqual({ runId: batchId, status: "COMPLETED", lastSeq: 2 });
    expect(await stub.eventsSince(0)).toMatchObject([
      { seq: 1, type: "status", data: { runId: "run_one", status: "EXECUTING" } },
      { seq: 2, type: "status", data: { status: "COMPLETED" } },
    ]);
    // Without a check run nothing is due.
    expect(await checkRunState(stub)).toEqual({ alarm: null, row: undefined });
  });

  it("sends its check run from its alarm, due again within the update interval when an item changes", async () => {
    const batchId = mintCuid();
    const stub = env.BATCH_DO.getByName(`batch_${batchId}`);
    await stub.trackCheckRun(batchId, tracked);
    await stub.trackCheckRun(batchId, tracked); // a repeated start tracks nothing new
    expect((await checkRunState(stub)).row).toEqual({ dirty: 1, check_run_id: null });

    // The batch is not in the store: the engine has nothing to send, and the row is up to date.
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await checkRunState(stub)).toEqual({ alarm: null, row: { dirty: 0, check_run_id: null } });

    const before = Date.now();
    await stub.recordItemStatus("run_one", "EXECUTING");
    const { alarm, row } = await checkRunState(stub);
    expect(row).toEqual({ dirty: 1, check_run_id: null });
    expect(alarm).toBeGreaterThanOrEqual(before + 500);
    expect(alarm).toBeLessThanOrEqual(Date.now() + 500);
  });
});
