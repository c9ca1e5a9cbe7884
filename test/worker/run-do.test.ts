import { env, evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { RunDO } from "../../worker/durable/run-do.ts";
import { mintCuid } from "../../worker/store/ids.ts";

describe("RunDO", () => {
  it("keeps its state and event log across eviction", async () => {
    const stub = env.RUN_DO.getByName("run_ceviction");
    expect(await stub.setStatus("ceviction", "PENDING")).toBe(1);
    expect(await stub.append("log", { message: "claimed" })).toBe(2);
    expect(await stub.append("step", { index: 0, status: "PASSED" })).toBe(3);

    await evictDurableObject(stub);

    expect(await stub.snapshot()).toEqual({ runId: "ceviction", status: "PENDING", lastSeq: 3 });
    const missed = await stub.eventsSince(2);
    expect(missed).toMatchObject([{ seq: 3, type: "step", data: { index: 0, status: "PASSED" } }]);
  });

  it("ignores a status report the transition table refuses, so a late dispatch cannot rewind a run", async () => {
    const stub = env.RUN_DO.getByName("run_clate");
    await stub.setStatus("clate", "PENDING");
    await stub.setStatus("clate", "EXECUTING");
    expect(await stub.setStatus("clate", "PENDING")).toBe(3); // EXECUTING → PENDING is a retry: allowed
    await stub.setStatus("clate", "EXECUTING");
    await stub.setStatus("clate", "COMPLETED");
    expect(await stub.setStatus("clate", "PENDING")).toBeUndefined();
    expect((await stub.snapshot()).status).toBe("COMPLETED");
  });

  it("stores events in SQLite storage", async () => {
    const stub = env.RUN_DO.getByName("run_csqlite");
    await stub.setStatus("csqlite", "PENDING");
    await stub.append("log", { message: "hello" });
    const rows = await runInDurableObject(stub, (_instance: RunDO, state) =>
      state.storage.sql.exec<{ type: string }>("SELECT type FROM events").toArray(),
    );
    expect(rows).toEqual([{ type: "status" }, { type: "log" }]);
  });

  it("answers a socket that dropped (1006) or closed without a code (1005) without throwing", async () => {
    const stub = env.RUN_DO.getByName("run_cdropped");
    await stub.setStatus("cdropped", "PENDING");
    const codes = await runInDurableObject(stub, (instance: RunDO, state) =>
      [1005, 1006, 1015, 4001].map((code) => {
        const { 0: client, 1: server } = new WebSocketPair();
        state.acceptWebSocket(server);
        const closed = new Promise<number>((resolve) =>
          client.addEventListener("close", (event) => resolve(event.code)),
        );
        client.accept();
        instance.webSocketClose(server, code, "gone");
        return closed;
      }),
    );
    expect(await Promise.all(codes)).toEqual([1000, 1000, 1000, 4001]);
  });

  it("sets its one alarm for the earliest timer, and keeps the timers an early alarm finds not yet due", async () => {
    const runId = mintCuid();
    const stub = env.RUN_DO.getByName(`run_${runId}`);
    await stub.setStatus(runId, "PENDING");
    const alarm = () => runInDurableObject(stub, (_instance: RunDO, state) => state.storage.getAlarm());
    const soon = Date.now() + 60_000;
    await stub.wakeAt("heartbeat", soon + 1_000);
    await stub.wakeAt("waitpoints", soon);
    expect(await alarm()).toBe(soon);
    await stub.wakeAt("heartbeat", soon - 500); // a heartbeat's deadline replaces its own time only
    expect(await alarm()).toBe(soon - 500);
    // Fired now (the run is in no store, so the engine has nothing to say): nothing was due, all is kept.
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await alarm()).toBe(soon - 500);
  });
});
