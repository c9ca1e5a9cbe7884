import { describe, expect, it } from "vitest";
import { InvalidIdError } from "../../../worker/store/errors.ts";
import { residencyOf } from "../../../worker/store/ids.ts";
import type { Run } from "../../../worker/store/run-store.ts";
import { SPLIT_OFF, SPLIT_ON, newOwner, withStore } from "./support.ts";

const newestFirst = (a: Run, b: Run) =>
  b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);

describe("listing runs across both stores", () => {
  it("pages through 1,000 interleaved runs: each exactly once, in order, no empty page", async () => {
    const owner = newOwner();
    const created: Run[] = [];
    // Interleave: batches of concurrent writes alternating between the stores, so many share a millisecond.
    for (let round = 0; round < 50; round++) {
      const settings = round % 2 === 0 ? SPLIT_ON : SPLIT_OFF;
      const rows = await withStore(settings, (store) =>
        Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            store.createRun({ ...owner, task: "http-check", status: "PENDING", tags: [`i${i}`] }),
          ),
        ),
      );
      created.push(...rows.map((r) => r.record));
    }
    expect(new Set(created.map((r) => residencyOf(r.id)))).toEqual(new Set(["legacy", "new"]));

    const seen: Run[] = [];
    const pageSizes: number[] = [];
    const cursors: string[] = [];
    await withStore(SPLIT_ON, async (store) => {
      let cursor: string | undefined;
      do {
        const page = await store.listRuns(owner.environmentId, {}, { limit: 37, cursor });
        pageSizes.push(page.data.length);
        seen.push(...page.data);
        cursor = page.nextCursor ?? undefined;
        if (cursor) cursors.push(cursor);
      } while (cursor);
    });

    expect(seen).toHaveLength(1000);
    expect(seen.map((r) => r.id)).toEqual([...created].sort(newestFirst).map((r) => r.id));
    expect(pageSizes.slice(0, -1).every((size) => size === 37)).toBe(true);
    expect(pageSizes.at(-1)).toBeGreaterThan(0);
    expect(cursors.every((cursor) => /^[A-Za-z0-9_-]+$/.test(cursor))).toBe(true);
  });

  it("filters by status, task, tag and batch in both stores", async () => {
    const owner = newOwner();
    const legacyBatch = await withStore(SPLIT_OFF, (store) =>
      store.createBatch(owner, [{ task: "browser-case", status: "QUEUED", tags: ["smoke"] }]),
    );
    await withStore(SPLIT_ON, async (store) => {
      await store.createRun({ ...owner, task: "browser-case", status: "QUEUED", tags: ["smoke", "pr-7"] });
      await store.createRun({ ...owner, task: "http-check", status: "PENDING" });
      const ids = async (filter: Parameters<typeof store.listRuns>[1]) =>
        (await store.listRuns(owner.environmentId, filter, { limit: 50 })).data.map(
          (r) => `${r.task}:${residencyOf(r.id)}`,
        );
      expect((await ids({ status: ["QUEUED"] })).sort()).toEqual(["browser-case:legacy", "browser-case:new"]);
      expect(await ids({ task: "http-check" })).toEqual(["http-check:new"]);
      expect((await ids({ tag: "smoke" })).sort()).toEqual(["browser-case:legacy", "browser-case:new"]);
      expect(await ids({ tag: "pr-7" })).toEqual(["browser-case:new"]);
      expect(await ids({ batchId: legacyBatch.record.batch.id })).toEqual(["browser-case:legacy"]);
      expect(await ids({ batchId: "not-an-id" })).toEqual([]);
    });
  });

  it("refuses a cursor it did not issue", async () => {
    await withStore(SPLIT_ON, async (store) => {
      for (const cursor of ["garbage", btoa("[1,2]"), btoa('[1,"x"]'), "%%%"]) {
        await expect(store.listRuns(newOwner().environmentId, {}, { limit: 5, cursor })).rejects.toBeInstanceOf(
          InvalidIdError,
        );
      }
    });
  });
});
