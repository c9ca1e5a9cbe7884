/**
 * The case language (DESIGN §7): a case is data, a list of steps a browser performs in order. Shared by the
 * Worker (validates at trigger time) and the executor (runs it), so: zod only, no Node or Playwright imports.
 * Every string is bounded; `schema/case.schema.json` is the published JSON Schema (`node scripts/json-schema.ts`).
 */
import * as z from "zod";
import { templateVariables } from "./templates.ts";

export const MAX_CASE_TIMEOUT_MS = 15 * 60_000;

const text = (max: number) => z.string().min(1).max(max);
const timeoutMs = z.int().min(100).max(MAX_CASE_TIMEOUT_MS);

/**
 * What a step acts on: a CSS/Playwright selector string, or exactly one of Playwright's user-facing locators
 * (`getByRole`, `getByLabel`, `getByText`, `getByTestId`, `getByPlaceholder`).
 */
export const targetSchema = z.union(
  [
    text(1_000),
    z.strictObject({ role: text(50), name: text(500).optional(), exact: z.boolean().optional() }),
    z.strictObject({ label: text(500) }),
    z.strictObject({ text: text(500), exact: z.boolean().optional() }),
    z.strictObject({ testId: text(200) }),
    z.strictObject({ placeholder: text(500) }),
  ],
  { error: "target must be a selector string or exactly one of {role, name?, exact?}, {label}, {text, exact?}, {testId}, {placeholder}" },
).meta({ id: "Target" }); // one $defs entry in the JSON Schema instead of a copy per step
export type Target = z.infer<typeof targetSchema>;

/** Absolute http(s), or relative to the case's baseUrl (resolved like a link: `/login`, `?q=1`, `../x`). */
const urlSchema = text(2_048).refine(
  (url) => url.startsWith("{{") || !/^[a-z][a-z\d+.-]*:/i.test(url) || /^https?:/i.test(url),
  "url must be http(s) or relative to the case's baseUrl",
);

const regexSchema = text(500).refine((pattern) => {
  try {
    return new RegExp(pattern) instanceof RegExp;
  } catch {
    return false;
  }
}, "pattern must be a valid regular expression");

/** Fields every step may carry: a label shown in results, and a per-step timeout overriding the case's. */
const common = { name: text(200).optional(), timeoutMs: timeoutMs.optional() };

const step = <Action extends string, Shape extends z.ZodRawShape>(action: Action, shape: Shape) =>
  z.strictObject({ action: z.literal(action), ...(common as Omit<typeof common, keyof Shape>), ...shape });

const gotoStep = step("goto", { url: urlSchema });
const clickStep = step("click", { target: targetSchema });
const fillStep = step("fill", { target: targetSchema, value: z.string().max(10_000) });
/** A key or chord as Playwright names it (`Enter`, `Control+A`); on the focused element when no target. */
const pressStep = step("press", { target: targetSchema.optional(), key: text(100) });
/** Selects options by value or label. */
const selectStep = step("select", {
  target: targetSchema,
  value: z.string().max(500).optional(),
  values: z.array(z.string().max(500)).max(100).optional(),
}).refine((s) => (s.value === undefined) !== (s.values === undefined), {
  message: "select needs exactly one of value or values",
  path: ["value"],
});
const checkStep = step("check", { target: targetSchema, checked: z.boolean().default(true) });
/** The target's text contains `text`, or equals it (whitespace-normalised) with `exact: true`. */
const expectTextStep = step("expectText", { target: targetSchema, text: z.string().max(2_000), exact: z.boolean().optional() });
const expectVisibleStep = step("expectVisible", { target: targetSchema, visible: z.boolean().default(true) });
/** The page URL equals `url` (absolute, or resolved against baseUrl), or matches `{ pattern }` (a regex). */
const expectUrlStep = step("expectUrl", { url: z.union([urlSchema, z.strictObject({ pattern: regexSchema })]) });
/** The page title equals `title` exactly. */
const expectTitleStep = step("expectTitle", { title: z.string().max(500) });
/** Waits for the target to be visible, or for a fixed time. */
const waitForStep = step("waitFor", { target: targetSchema.optional(), ms: z.int().min(1).max(60_000).optional() }).refine(
  (s) => (s.target === undefined) !== (s.ms === undefined),
  { message: "waitFor needs exactly one of target or ms", path: ["target"] },
);
const screenshotStep = step("screenshot", { fullPage: z.boolean().optional() });
/**
 * Waits until the waitpoint token with this idempotency key is completed (e.g. by a deploy hook). Here
 * `timeoutMs` is required: it is how long the token may take. The token's output is saved as `saveAs` for
 * `{{saveAs.…}}` templates in later steps.
 */
const waitForTokenStep = step("waitForToken", {
  idempotencyKey: text(200),
  timeoutMs: z.int().min(1_000).max(MAX_CASE_TIMEOUT_MS),
  saveAs: z.string().regex(/^[A-Za-z_]\w{0,49}$/, "saveAs must be an identifier (letters, digits, _) of at most 50 characters").optional(),
});

const stepOptions = [
  gotoStep,
  clickStep,
  fillStep,
  pressStep,
  selectStep,
  checkStep,
  expectTextStep,
  expectVisibleStep,
  expectUrlStep,
  expectTitleStep,
  waitForStep,
  screenshotStep,
  waitForTokenStep,
] as const;

export const STEP_ACTIONS = stepOptions.map((option) => option.shape.action.value);

export const stepSchema = z.discriminatedUnion("action", stepOptions, {
  error: (issue) => (issue.code === "invalid_union" ? `action must be one of ${STEP_ACTIONS.join(", ")}` : undefined),
});
export type Step = z.infer<typeof stepSchema>;
export type StepAction = Step["action"];

export const caseSchema = z
  .strictObject({
    name: text(200),
    steps: z.array(stepSchema).min(1).max(200),
    timeoutMs: z.int().min(1_000).max(MAX_CASE_TIMEOUT_MS).default(60_000),
    stepTimeoutMs: timeoutMs.default(10_000),
    maxAttempts: z.int().min(1).max(10).optional(),
  })
  .superRefine((testCase, ctx) => {
    const saved = new Set<string>();
    testCase.steps.forEach((step, index) => {
      for (const name of templateVariables(step)) {
        if (!saved.has(name)) {
          ctx.addIssue({ code: "custom", path: ["steps", index], message: `{{${name}}} is not saved by an earlier waitForToken step (saveAs: "${name}")` });
        }
      }
      if (step.timeoutMs !== undefined && step.timeoutMs > testCase.timeoutMs) {
        ctx.addIssue({ code: "custom", path: ["steps", index, "timeoutMs"], message: `step timeoutMs ${step.timeoutMs} exceeds the case timeoutMs ${testCase.timeoutMs}` });
      }
      if (step.action === "waitForToken" && step.saveAs) saved.add(step.saveAs);
    });
  })
  .meta({ title: "flightcheck case", description: "A browser regression case: steps run in order in a fresh browser context." });
export type Case = z.infer<typeof caseSchema>;
/** A case as authors write it (defaults not yet applied). */
export type CaseInput = z.input<typeof caseSchema>;
