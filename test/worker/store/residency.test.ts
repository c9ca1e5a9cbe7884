import { describe, expect, it } from "vitest";
import { residencyOf } from "../../../worker/store/ids.ts";
import { SPLIT_OFF, SPLIT_ON, newOwner, whereAre, withStore } from "./support.ts";

const run = { task: "http-check", status: "PENDING" as const, payload: { url: "http://127.0.0.1/" } };

describe("residency", () => {
  it("puts root runs and batches in run-ops (ksuid) with the split on", async () => {
    const owner = newOwner();
    const { record } = await withStore(SPLIT_ON, (store) => store.createRun({ ...owner, ...run }));
    const { record: created } = await withStore(SPLIT_ON, (store) => store.createBatch(owner, [run, run]));
    expect(residencyOf(record.id)).toBe("new");
    expect(residencyOf(created.batch.id)).toBe("new");
    expect(created.runs.map((item) => residencyOf(item.id))).toEqual(["new", "new"]);
    expect(await whereAre("runs", [record.id])).toEqual({ legacy: [], new: [record.id] });
    expect(await whereAre("batches", [created.batch.id])).toEqual({ legacy: [], new: [created.batch.id] });
  });

  it("keeps everything in legacy (cuid) with the split off, even with a run-ops database configured", async () => {
    const owner = newOwner();
    const { record } = await withStore(SPLIT_OFF, (store) => store.createRun({ ...owner, ...run }));
    expect(residencyOf(record.id)).toBe("legacy");
    expect(await whereAre("runs", [record.id])).toEqual({ legacy: [record.id], new: [] });
  });

  it("serves cuid and ksuid runs side by side, each from its own store", async () => {
    const owner = newOwner();
    const legacyRun = await withStore(SPLIT_OFF, (store) => store.createRun({ ...owner, ...run }));
    const newRun = await withStore(SPLIT_ON, (store) => store.createRun({ ...owner, ...run }));
    await withStore(SPLIT_OFF, async (store) => {
      expect((await store.findRun(owner.environmentId, newRun.record.id))?.id).toBe(newRun.record.id);
      expect((await store.findRun(owner.environmentId, legacyRun.record.id))?.id).toBe(legacyRun.record.id);
      const both = await store.findRuns(owner.environmentId, [newRun.record.id, legacyRun.record.id, "nonsense"]);
      expect(both.map((r) => r.id).sort()).toEqual([legacyRun.record.id, newRun.record.id].sort());
      expect(await store.findRun(newOwner().environmentId, newRun.record.id)).toBeUndefined();
    });
  });

  it("gives a child its parent's store whatever the switch says", async () => {
    const owner = newOwner();
    const ksuidParent = await withStore(SPLIT_ON, (store) => store.createRun({ ...owner, ...run }));
    const cuidParent = await withStore(SPLIT_OFF, (store) => store.createRun({ ...owner, ...run }));

    const ksuidChild = await withStore(SPLIT_OFF, (store) =>
      store.createRun({ ...owner, ...run, parentRunId: ksuidParent.record.id }),
    );
    const cuidChild = await withStore(SPLIT_ON, (store) =>
      store.createRun({ ...owner, ...run, parentRunId: cuidParent.record.id }),
    );
    const cuidBatch = await withStore(SPLIT_ON, (store) =>
      store.createBatch({ ...owner, parentRunId: cuidParent.record.id }, [run]),
    );

    expect(residencyOf(ksuidChild.record.id)).toBe("new");
    expect(residencyOf(cuidChild.record.id)).toBe("legacy");
    expect(residencyOf(cuidBatch.record.batch.id)).toBe("legacy");
    expect(residencyOf(cuidBatch.record.runs[0]!.id)).toBe("legacy");
    expect(cuidBatch.record.runs[0]!.parentRunId).toBe(cuidParent.record.id);
    expect(await whereAre("runs", [ksuidChild.record.id, cuidChild.record.id])).toEqual({
      legacy: [cuidChild.record.id],
      new: [ksuidChild.record.id],
    });
  });

  it("writes a run's waitpoints beside it, standalone tokens in legacy, and finds both by fan-out", async () => {
    const owner = newOwner();
    await withStore(SPLIT_ON, async (store) => {
      const parent = await store.createRun({ ...owner, ...run });
      const owned = await store.createWaitpoint({
        ...owner,
        type: "DATETIME",
        ownerRunId: parent.record.id,
        completeAfter: new Date(),
      });
      const standalone = await store.createWaitpoint({ ...owner, type: "TOKEN", tags: ["deploy"] });
      expect(residencyOf(owned.record.id)).toBe("legacy"); // waitpoint ids are always cuid
      expect(await whereAre("waitpoints", [owned.record.id, standalone.record.id])).toEqual({
        legacy: [standalone.record.id],
        new: [owned.record.id],
      });
      expect((await store.findWaitpoint(owner.environmentId, owned.record.id))?.ownerRunId).toBe(parent.record.id);
      expect((await store.findWaitpoint(owner.environmentId, standalone.record.id))?.tags).toEqual(["deploy"]);
    });
  });

  it("does not find another environment's waitpoint, in either store", async () => {
    const owner = newOwner();
    const stranger = newOwner();
    await withStore(SPLIT_ON, async (store) => {
      const parent = await store.createRun({ ...owner, ...run });
      const owned = await store.createWaitpoint({ ...owner, type: "TOKEN", ownerRunId: parent.record.id });
      const standalone = await store.createWaitpoint({ ...owner, type: "TOKEN" });
      expect(await store.findWaitpoint(stranger.environmentId, owned.record.id)).toBeUndefined();
      expect(await store.findWaitpoint(stranger.environmentId, standalone.record.id)).toBeUndefined();
    });
  });

  it("blocks a run on waitpoints in the same transaction that creates it", async () => {
    const owner = newOwner();
    await withStore(SPLIT_ON, async (store) => {
      const token = await store.createWaitpoint({ ...owner, type: "TOKEN" });
      const blocked = await store.createRun({ ...owner, ...run, status: "WAITING", blockedBy: [token.record.id] });
      expect(blocked.record.status).toBe("WAITING");
      expect(residencyOf(blocked.record.id)).toBe("new");
    });
  });
});
