import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type * as z from "../../schema/zod.ts";
import { caseSchema, stepSchema } from "../../schema/steps.ts";
import { browserCasePayloadSchema } from "../../schema/tasks.ts";
import { interpolate, TemplateError } from "../../schema/templates.ts";
import { CASE_SCHEMA_PATH, caseJsonSchema } from "../../scripts/json-schema.ts";

/** Each zod issue as "path: message". */
function problems(schema: z.ZodMiniType, input: unknown): string[] {
  const parsed = schema.safeParse(input);
  return parsed.success ? [] : parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`);
}

describe("case schema", () => {
  it("fills in the case defaults and accepts every step kind", () => {
    const parsed = caseSchema.parse({
      name: "everything",
      steps: [
        { action: "goto", url: "/login", name: "open login", timeoutMs: 5_000 },
        { action: "click", target: "#submit" },
        { action: "fill", target: { label: "Email" }, value: "a@b.c" },
        { action: "press", key: "Enter" },
        { action: "select", target: { testId: "priority" }, values: ["low", "high"] },
        { action: "check", target: { role: "checkbox", name: "Done", exact: true } },
        { action: "expectText", target: { text: "Hello", exact: false }, text: "Hello" },
        { action: "expectVisible", target: { placeholder: "Search" } },
        { action: "expectUrl", url: { pattern: "/dash(board)?$" } },
        { action: "expectTitle", title: "Home" },
        { action: "waitFor", ms: 100 },
        { action: "screenshot", fullPage: true },
        { action: "waitForToken", idempotencyKey: "deploy-1", timeoutMs: 30_000, saveAs: "preview" },
        { action: "goto", url: "{{preview.url}}/pricing" },
      ],
    });
    expect(parsed).toMatchObject({ timeoutMs: 60_000, stepTimeoutMs: 10_000 });
    expect(parsed.steps[5]).toMatchObject({ checked: true });
    expect(parsed.steps[7]).toMatchObject({ visible: true });
  });

  it("names an unknown action and lists the known ones", () => {
    expect(problems(stepSchema, { action: "hover", target: "a" })).toEqual([
      "action: action must be one of goto, click, fill, press, select, check, expectText, expectVisible, " +
        "expectUrl, expectTitle, waitFor, screenshot, waitForToken",
    ]);
  });

  it("refuses unknown keys, a malformed target and missing or doubled alternatives", () => {
    expect(problems(stepSchema, { action: "click", target: "a", force: true })).toEqual([
      ': Unrecognized key: "force"',
    ]);
    expect(problems(stepSchema, { action: "click", target: { role: "button", label: "x" } })[0]).toContain(
      "target: target must be a selector string or exactly one of {role, name?, exact?}, {label}",
    );
    expect(problems(stepSchema, { action: "click", target: "" })[0]).toMatch(/^target: /);
    expect(problems(stepSchema, { action: "click", target: { role: "x".repeat(51) } })).toEqual([
      "target.role: Too big: expected string to have <=50 characters",
    ]);
    expect(problems(stepSchema, { action: "select", target: "s", value: "a", values: ["b"] })).toEqual([
      "value: select needs exactly one of value or values",
    ]);
    expect(problems(stepSchema, { action: "waitFor" })).toEqual(["target: waitFor needs exactly one of target or ms"]);
    expect(problems(stepSchema, { action: "expectUrl", url: { pattern: "(" } })).toEqual([
      "url.pattern: pattern must be a valid regular expression",
    ]);
    expect(
      problems(stepSchema, { action: "waitForToken", idempotencyKey: "k", timeoutMs: 5_000, saveAs: "not ok" })[0],
    ).toContain("saveAs must be an identifier");
  });

  it("refuses URLs that are neither http(s) nor relative", () => {
    for (const url of ["javascript:alert(1)", "file:///etc/passwd", "data:text/html,hi"]) {
      expect(problems(stepSchema, { action: "goto", url })).toEqual([
        "url: url must be http(s) or relative to the case's baseUrl",
      ]);
    }
    for (const url of ["https://example.com/x", "/login", "?q=1", "../up", "{{preview.url}}"])
      expect(problems(stepSchema, { action: "goto", url })).toEqual([]);
  });

  it("bounds every string", () => {
    expect(problems(stepSchema, { action: "fill", target: "#a", value: "x".repeat(10_001) })).toEqual([
      "value: Too big: expected string to have <=10000 characters",
    ]);
    expect(problems(stepSchema, { action: "goto", url: `/${"x".repeat(2_048)}` })).toEqual([
      "url: Too big: expected string to have <=2048 characters",
    ]);
    expect(problems(stepSchema, { action: "click", target: "#a", name: "n".repeat(201) })).toEqual([
      "name: Too big: expected string to have <=200 characters",
    ]);
  });

  it("bounds the case: name, 1–200 steps, timeouts up to 15 minutes, 1–10 attempts", () => {
    const goto = { action: "goto", url: "/" };
    expect(problems(caseSchema, { name: "", steps: [] })).toEqual([
      "name: Too small: expected string to have >=1 characters",
      "steps: Too small: expected array to have >=1 items",
    ]);
    expect(problems(caseSchema, { name: "n", steps: Array(201).fill(goto) })).toEqual([
      "steps: Too big: expected array to have <=200 items",
    ]);
    expect(problems(caseSchema, { name: "n", steps: [goto], timeoutMs: 15 * 60_000 + 1, maxAttempts: 11 })).toEqual([
      "timeoutMs: Too big: expected number to be <=900000",
      "maxAttempts: Too big: expected number to be <=10",
    ]);
  });

  it("refuses a template no earlier waitForToken step saves, and a step longer than its case", () => {
    expect(
      problems(caseSchema, {
        name: "n",
        timeoutMs: 20_000,
        steps: [
          { action: "goto", url: "{{preview.url}}" },
          { action: "waitForToken", idempotencyKey: "k", timeoutMs: 30_000, saveAs: "preview" },
        ],
      }),
    ).toEqual([
      'steps.0: {{preview}} is not saved by an earlier waitForToken step (saveAs: "preview")',
      "steps.1.timeoutMs: step timeoutMs 30000 exceeds the case timeoutMs 20000",
    ]);
  });

  it("is what a browser-case payload carries", () => {
    expect(
      problems(browserCasePayloadSchema, {
        case: { name: "n", steps: [{ action: "goto", url: "/" }] },
        baseUrl: "ftp://x",
      }),
    ).toEqual(["baseUrl: Invalid URL"]);
    expect(
      problems(browserCasePayloadSchema, {
        case: { name: "n", steps: [{ action: "jump" }] },
        baseUrl: "https://x.dev",
      })[0],
    ).toMatch(/^case.steps.0.action: action must be one of/);
  });
});

describe("published JSON Schema", () => {
  it("is committed as freshly generated (run `node scripts/json-schema.ts` after changing the case schema)", () => {
    expect(readFileSync(CASE_SCHEMA_PATH, "utf8")).toBe(caseJsonSchema());
  });

  it("describes cases as authors write them: defaulted fields are optional", () => {
    const schema = JSON.parse(caseJsonSchema());
    expect(schema.required).toEqual(["name", "steps"]);
    expect(schema.$defs.Target.anyOf).toHaveLength(6);
  });
});

describe("templates", () => {
  const variables = { preview: { url: "https://pr-7.example.dev", build: { number: 42 } }, user: "ada" };

  it("replaces templates in every string of a step, nested paths included", () => {
    const step = {
      action: "fill",
      target: { label: "{{user}}" },
      value: "{{ preview.url }}/build/{{preview.build.number}}",
    };
    expect(interpolate(step, variables)).toEqual({
      action: "fill",
      target: { label: "ada" },
      value: "https://pr-7.example.dev/build/42",
    });
    expect(step.value).toBe("{{ preview.url }}/build/{{preview.build.number}}");
  });

  it("leaves text that is not a template alone", () => {
    expect(interpolate({ value: "{{ not a template }} and {x}" }, {})).toEqual({
      value: "{{ not a template }} and {x}",
    });
  });

  it("names an unknown variable or property", () => {
    expect(() => interpolate({ url: "{{preveiw.url}}" }, variables)).toThrow(
      new TemplateError(
        'unknown template variable "preveiw" in {{preveiw.url}}: ' +
          "no earlier waitForToken step saved it (saved: preview, user)",
      ),
    );
    expect(() => interpolate({ url: "{{preview.uri}}" }, variables)).toThrow(
      '{{preview.uri}}: preview has no property "uri"',
    );
  });
});
