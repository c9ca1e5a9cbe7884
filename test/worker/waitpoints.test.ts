/** Waitpoint tokens through the API: create, retrieve, complete (first output wins), callback URLs, timeouts. */
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { residencyOf } from "../../worker/store/ids.ts";
import { client, createTenant } from "./support.ts";

const callback = (url: string, body: string) =>
  exports.default.fetch(url.replace(/^https?:\/\/[^/]+/, "http://flightcheck"), {
    method: "POST",
    headers: { "content-type": "application/json" },
    body,
  });

describe("waitpoint tokens", () => {
  it("are created standalone in legacy, retrieved WAITING, and completed once: the first output wins", async () => {
    const api = client((await createTenant()).apiKey);
    const { status, body } = await api.json("POST", "/api/v1/waitpoints/tokens", { tags: ["preview"], timeout: "1h" });
    expect(status).toBe(201);
    expect(body).toMatchObject({
      id: expect.stringMatching(/^waitpoint_c/),
      url: expect.stringContaining("/callback/"),
      isCached: false,
    });
    expect(residencyOf(body.id.slice("waitpoint_".length))).toBe("legacy");
    expect((await api.json("GET", `/api/v1/waitpoints/tokens/${body.id}`)).body).toMatchObject({
      status: "WAITING",
      tags: ["preview"],
    });

    const completions = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        api.json("POST", `/api/v1/waitpoints/tokens/${body.id}/complete`, { data: { n: i } }),
      ),
    );
    expect(completions.every((r) => r.status === 200 && r.body.success)).toBe(true);
    const token = (await api.json("GET", `/api/v1/waitpoints/tokens/${body.id}`)).body;
    expect(token.status).toBe("COMPLETED");
    for (let i = 0; i < 3; i++) {
      await api.json("POST", `/api/v1/waitpoints/tokens/${body.id}/complete`, { data: { n: "late" } });
      expect((await api.json("GET", `/api/v1/waitpoints/tokens/${body.id}`)).body.output).toEqual(token.output);
    }
  });

  it("dedups on an idempotency key", async () => {
    const api = client((await createTenant()).apiKey);
    const first = await api.json("POST", "/api/v1/waitpoints/tokens", { idempotencyKey: "deploy-7" });
    const again = await api.json("POST", "/api/v1/waitpoints/tokens", { idempotencyKey: "deploy-7" });
    expect(again).toMatchObject({ status: 200, body: { id: first.body.id, isCached: true } });
  });

  it("completes through its callback URL with the whole body, and a forged hash changes nothing", async () => {
    const api = client((await createTenant()).apiKey);
    const { body } = await api.json("POST", "/api/v1/waitpoints/tokens", {});
    const forged = body.url.replace(/callback\/.*$/, "callback/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    expect((await callback(forged, '{"baseUrl":"http://evil"}')).status).toBe(401);
    expect((await api.json("GET", `/api/v1/waitpoints/tokens/${body.id}`)).body.status).toBe("WAITING");

    expect((await callback(body.url, '{"baseUrl":"https://pr-7.preview.test"}')).status).toBe(200);
    expect((await api.json("GET", `/api/v1/waitpoints/tokens/${body.id}`)).body).toMatchObject({
      status: "COMPLETED",
      output: { baseUrl: "https://pr-7.preview.test" },
    });
  });

  it("times out with { ok: false } once its timeout has passed", async () => {
    const api = client((await createTenant()).apiKey);
    const { body } = await api.json("POST", "/api/v1/waitpoints/tokens", { timeout: "200ms" });
    await new Promise((resolve) => setTimeout(resolve, 300));
    await api.json("POST", `/api/v1/waitpoints/tokens/${body.id}/complete`, { data: "too late" });
    expect((await api.json("GET", `/api/v1/waitpoints/tokens/${body.id}`)).body).toMatchObject({
      status: "TIMED_OUT",
      output: { ok: false },
      outputIsError: true,
    });
  });

  it("does not let another environment retrieve or complete a token, and refuses bad input", async () => {
    const api = client((await createTenant()).apiKey);
    const stranger = client((await createTenant()).apiKey);
    const { body } = await api.json("POST", "/api/v1/waitpoints/tokens", {});
    expect((await stranger.json("GET", `/api/v1/waitpoints/tokens/${body.id}`)).status).toBe(404);
    expect((await stranger.json("POST", `/api/v1/waitpoints/tokens/${body.id}/complete`, { data: 1 })).status).toBe(
      404,
    );
    expect((await api.json("GET", `/api/v1/waitpoints/tokens/${body.id}`)).body.status).toBe("WAITING");
    expect((await api.json("GET", "/api/v1/waitpoints/tokens/waitpoint_nope")).status).toBe(400);
    expect((await api.json("POST", "/api/v1/waitpoints/tokens", { timeout: "later" })).status).toBe(422);
    expect((await api.request("POST", `/api/v1/waitpoints/tokens/${body.id}/complete`, "{")).status).toBe(400);
    expect((await callback(body.url, "{nope")).status).toBe(400);
    expect((await callback(body.url, '"\\u0000"')).status).toBe(422);
  });
});
