/** The bench's floor route: one bare INSERT through the Worker's driver, mounted only with BENCH_ROUTES=true. */
import { inject } from "vitest";
import { describe, expect, it } from "vitest";
import { connect } from "../../worker/store/database.ts";
import { client } from "./support.ts";

const benchStack = client("no-key", { BENCH_ROUTES: "true" });

async function floorRows(marker: string): Promise<number> {
  const { pool, close } = connect(inject("runopsDatabaseUrl"), { wsProxy: inject("wsProxyUrl") });
  try {
    const query = "select count(*)::int as n from bench_floor where payload->>'marker' = $1";
    const { rows } = await pool.query(query, [marker]);
    return rows[0].n;
  } finally {
    await close();
  }
}

describe("POST /bench/floor", () => {
  it("is an unknown route unless BENCH_ROUTES is on", async () => {
    for (const settings of [undefined, { BENCH_ROUTES: "false" }]) {
      const response = await client("no-key", settings).request("POST", "/bench/floor", { payload: {} });
      expect(response.status).toBe(404);
      expect(response.headers.get("content-type")).toBe("application/problem+json");
    }
  });

  it("inserts one row into the run store new runs go to, creating its scratch table on first use", async () => {
    const marker = crypto.randomUUID();
    for (let i = 0; i < 2; i++) {
      expect((await benchStack.request("POST", "/bench/floor", { payload: { marker } })).status).toBe(204);
    }
    expect(await floorRows(marker)).toBe(2);
  });

  it("answers 422 for a body that is not an object with a payload", async () => {
    for (const body of ["not json", { payload: 1 }, { payload: {}, extra: true }]) {
      const response = await benchStack.request("POST", "/bench/floor", body);
      expect(response.status).toBe(422);
    }
  });
});
