import { describe, expect, it } from "vitest";
import { ConflictError, StoreUnavailableError } from "../../../worker/store/errors.ts";
import { CLOSED_PORT_URL, SPLIT_OFF, SPLIT_ON, newOwner, withStore } from "./support.ts";

const run = { task: "http-check", status: "PENDING" as const };

/** Two items of one batch claiming the same key: a real unique violation inside one transaction. */
const clashingItems = [
  { ...run, idempotencyKey: "same" },
  { ...run, idempotencyKey: "same" },
];

describe("one error language", () => {
  it.each([
    ["run-ops", SPLIT_ON],
    ["legacy", SPLIT_OFF],
  ])("a unique violation in %s is a ConflictError, and the batch is not half-written", async (_name, settings) => {
    const owner = newOwner();
    await withStore(settings, async (store) => {
      const attempt = store.createBatch(owner, clashingItems);
      await expect(attempt).rejects.toBeInstanceOf(ConflictError);
      const listed = await store.listRuns(owner.environmentId, {}, { limit: 10 });
      expect(listed.data).toEqual([]);
    });
  });

  it("a run-ops database that is down is a StoreUnavailableError naming it, and legacy gets nothing", async () => {
    const owner = newOwner();
    const down = { ...SPLIT_ON, RUNOPS_DATABASE_URL: CLOSED_PORT_URL };
    await withStore(down, async (store) => {
      const attempt = store.createRun({ ...owner, ...run, idempotencyKey: "k" });
      await expect(attempt).rejects.toBeInstanceOf(StoreUnavailableError);
      await expect(attempt).rejects.toMatchObject({ store: "new" });
    });
    await withStore(SPLIT_OFF, async (store) => {
      expect((await store.listRuns(owner.environmentId, {}, { limit: 10 })).data).toEqual([]);
    });
  });

  it("a legacy database that is down stops a run-ops write that must consult it; run-ops gets nothing", async () => {
    const owner = newOwner();
    const down = { ...SPLIT_ON, LEGACY_DATABASE_URL: CLOSED_PORT_URL };
    await withStore(down, async (store) => {
      const attempt = store.createRun({ ...owner, ...run, idempotencyKey: "pre-split-authority" });
      await expect(attempt).rejects.toMatchObject({ name: "StoreUnavailableError", store: "legacy" });
    });
    await withStore(SPLIT_ON, async (store) => {
      expect((await store.listRuns(owner.environmentId, {}, { limit: 10 })).data).toEqual([]);
    });
  });

  it("a ksuid run asked for with no run-ops database configured is unavailable, not a crash", async () => {
    await withStore({ ...SPLIT_OFF, RUNOPS_DATABASE_URL: "" }, async (store) => {
      await expect(store.findRun(newOwner().environmentId, "0ujsswThIGTUYm2K8FjOOfXtY1K")).rejects.toMatchObject({
        store: "new",
      });
    });
  });
});
