import { env, evictDurableObject, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { RunDO } from "../../worker/durable/run-do.ts";

describe("RunDO", () => {
  it("keeps its state and event log across eviction", async () => {
    const stub = env.RUN_DO.getByName("run_ceviction");
    await stub.initialize("ceviction", "PENDING");
    expect(await stub.append("log", { message: "claimed" })).toBe(1);
    expect(await stub.append("step", { index: 0, status: "PASSED" })).toBe(2);

    await evictDurableObject(stub);

    expect(await stub.snapshot()).toEqual({ runId: "ceviction", status: "PENDING", lastSeq: 2 });
    const missed = await stub.eventsSince(1);
    expect(missed).toMatchObject([{ seq: 2, type: "step", data: { index: 0, status: "PASSED" } }]);
  });

  it("ignores a second initialise, so a redelivered dispatch keeps the live state", async () => {
    const stub = env.RUN_DO.getByName("run_credelivered");
    await stub.initialize("credelivered", "PENDING");
    await stub.append("status", { status: "EXECUTING" });
    const again = await stub.initialize("credelivered", "QUEUED");
    expect(again).toEqual({ runId: "credelivered", status: "PENDING", lastSeq: 1 });
  });

  it("stores events in SQLite storage", async () => {
    const stub = env.RUN_DO.getByName("run_csqlite");
    await stub.initialize("csqlite", "PENDING");
    await stub.append("log", { message: "hello" });
    const rows = await runInDurableObject(stub, (_instance: RunDO, state) =>
      state.storage.sql.exec<{ type: string }>("SELECT type FROM events").toArray(),
    );
    expect(rows).toEqual([{ type: "log" }]);
  });
});
