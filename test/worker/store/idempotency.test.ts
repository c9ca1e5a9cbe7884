import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../../worker/config.ts";
import { residencyOf } from "../../../worker/store/ids.ts";
import { openStores } from "../../../worker/store/open.ts";
import { SPLIT_OFF, SPLIT_ON, newOwner, withStore } from "./support.ts";

const run = { task: "browser-case", status: "PENDING" as const };

describe("idempotency", () => {
  it.each([
    ["run-ops", SPLIT_ON],
    ["legacy", SPLIT_OFF],
  ])("200 concurrent writers with one key in %s make one run", async (_name, settings) => {
    const owner = newOwner();
    // A store (its own connections) per writer: 200 transactions really race at the database.
    const stores = Array.from({ length: 200 }, () => openStores(loadConfig({ ...env, ...settings })));
    try {
      const results = await Promise.all(
        stores.map(({ runs }) => runs.createRun({ ...owner, ...run, idempotencyKey: "deploy-42" })),
      );
      expect(new Set(results.map((r) => r.record.id)).size).toBe(1);
      expect(results.filter((r) => !r.isCached)).toHaveLength(1);
      const listed = await stores[0]!.runs.listRuns(owner.environmentId, {}, { limit: 10 });
      expect(listed.data).toHaveLength(1);
    } finally {
      await Promise.all(stores.map((store) => store.close()));
    }
  });

  it("scopes keys per environment and task", async () => {
    const owner = newOwner();
    await withStore(SPLIT_ON, async (store) => {
      const first = await store.createRun({ ...owner, ...run, idempotencyKey: "k" });
      const otherTask = await store.createRun({ ...owner, ...run, task: "http-check", idempotencyKey: "k" });
      const otherEnvironment = await store.createRun({ ...newOwner(), ...run, idempotencyKey: "k" });
      expect(new Set([first.record.id, otherTask.record.id, otherEnvironment.record.id]).size).toBe(3);
    });
  });

  it("keeps a key written in legacy before the split authoritative after it", async () => {
    const owner = newOwner();
    const before = await withStore(SPLIT_OFF, (store) =>
      store.createRun({ ...owner, ...run, idempotencyKey: "pre-split" }),
    );
    const after = await withStore(SPLIT_ON, (store) =>
      store.createRun({ ...owner, ...run, idempotencyKey: "pre-split" }),
    );
    expect(residencyOf(before.record.id)).toBe("legacy");
    expect(after).toMatchObject({ isCached: true, record: { id: before.record.id } });
  });

  it("lets a failed run give its key back, while a completed run keeps it", async () => {
    const owner = newOwner();
    await withStore(SPLIT_ON, async (store) => {
      const failed = await store.createRun({ ...owner, ...run, idempotencyKey: "retry-me" });
      await store.updateRun(failed.record.id, { status: "FAILED", completedAt: new Date() });
      const again = await store.createRun({ ...owner, ...run, idempotencyKey: "retry-me" });
      expect(again.isCached).toBe(false);
      expect(again.record.id).not.toBe(failed.record.id);

      await store.updateRun(again.record.id, { status: "COMPLETED", completedAt: new Date() });
      expect(await store.createRun({ ...owner, ...run, idempotencyKey: "retry-me" })).toMatchObject({
        isCached: true,
        record: { id: again.record.id },
      });
    });
  });

  it("honours the key's TTL: after it, the same key makes a new run", async () => {
    const owner = newOwner();
    await withStore(SPLIT_ON, async (store) => {
      const past = new Date(Date.now() - 1000);
      const stale = await store.createRun({ ...owner, ...run, idempotencyKey: "ttl", idempotencyKeyExpiresAt: past });
      const fresh = await store.createRun({
        ...owner,
        ...run,
        idempotencyKey: "ttl",
        idempotencyKeyExpiresAt: new Date(Date.now() + 60_000),
      });
      expect(fresh.isCached).toBe(false);
      expect(fresh.record.id).not.toBe(stale.record.id);
      expect((await store.findRun(owner.environmentId, stale.record.id, { fresh: true }))?.idempotencyKey).toBeNull();
    });
  });

  it("makes a batch idempotent as a whole", async () => {
    const owner = newOwner();
    await withStore(SPLIT_ON, async (store) => {
      const first = await store.createBatch({ ...owner, idempotencyKey: "suite-run-7" }, [run, run, run]);
      const second = await store.createBatch({ ...owner, idempotencyKey: "suite-run-7" }, [run]);
      expect(second.isCached).toBe(true);
      expect(second.record.batch.id).toBe(first.record.batch.id);
      expect(second.record.runs.map((r) => r.id)).toEqual(first.record.runs.map((r) => r.id));
    });
  });

  it("dedups tokens on their key", async () => {
    const owner = newOwner();
    await withStore(SPLIT_ON, async (store) => {
      const results = await Promise.all(
        Array.from({ length: 20 }, () =>
          store.createWaitpoint({ ...owner, type: "TOKEN", idempotencyKey: "preview-ready" }),
        ),
      );
      expect(new Set(results.map((r) => r.record.id)).size).toBe(1);
      expect(results.filter((r) => !r.isCached)).toHaveLength(1);
    });
  });
});
