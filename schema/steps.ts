/**
 * The case language (DESIGN §7): a case is data, a list of steps a browser performs in order. Shared by the
 * Worker (validates at trigger time) and the executor (runs it), so: zod only, no Node or Playwright imports.
 * Every string is bounded; `schema/case.schema.json` is the published JSON Schema (`node scripts/json-schema.ts`).
 */
import * as z from "./zod.ts";
import { templateVariables } from "./templates.ts";

export const MAX_CASE_TIMEOUT_MS = 15 * 60_000;

const text = (max: number) => z.string().check(z.minLength(1), z.maxLength(max));
const timeoutMs = z.int().check(z.minimum(100), z.maximum(MAX_CASE_TIMEOUT_MS));

/**
 * What a step acts on: a CSS/Playwright selector string, or exactly one of Playwright's user-facing locators
 * (`getByRole`, `getByLabel`, `getByText`, `getByTestId`, `getByPlaceholder`).
 */
export const targetSchema = z
  .union(
    [
      text(1_000),
      z.strictObject({ role: text(50), name: z.optional(text(500)), exact: z.optional(z.boolean()) }),
      z.strictObject({ label: text(500) }),
      z.strictObject({ text: text(500), exact: z.optional(z.boolean()) }),
      z.strictObject({ testId: text(200) }),
      z.strictObject({ placeholder: text(500) }),
    ],
    {
      error:
        "target must be a selector string or exactly one of " +
        "{role, name?, exact?}, {label}, {text, exact?}, {testId}, {placeholder}",
    },
  )
  .register(z.globalRegistry, { id: "Target" }); // one $defs entry in the JSON Schema instead of a copy per step
export type Target = z.infer<typeof targetSchema>;

/** Absolute http(s), or relative to the case's baseUrl (resolved like a link: `/login`, `?q=1`, `../x`). */
const urlSchema = text(2_048).check(
  z.refine(
    (url) => url.startsWith("{{") || !/^[a-z][a-z\d+.-]*:/i.test(url) || /^https?:/i.test(url),
    "url must be http(s) or relative to the case's baseUrl",
  ),
);

const regexSchema = text(500).check(
  z.refine((pattern) => {
    try {
      return new RegExp(pattern) instanceof RegExp;
    } catch {
      return false;
    }
  }, "pattern must be a valid regular expression"),
);

/** Fields every step may carry: a label shown in results, and a per-step timeout overriding the case's. */
const common = { name: z.optional(text(200)), timeoutMs: z.optional(timeoutMs) };

const step = <Action extends string, Shape extends z.core.$ZodLooseShape>(action: Action, shape: Shape) =>
  z.strictObject({ action: z.literal(action), ...(common as Omit<typeof common, keyof Shape>), ...shape });

const gotoStep = step("goto", { url: urlSchema });
const clickStep = step("click", { target: targetSchema });
const fillStep = step("fill", { target: targetSchema, value: z.string().check(z.maxLength(10_000)) });
/** A key or chord as Playwright names it (`Enter`, `Control+A`); on the focused element when no target. */
const pressStep = step("press", { target: z.optional(targetSchema), key: text(100) });
/** Selects options by value or label. */
const selectStep = step("select", {
  target: targetSchema,
  value: z.optional(z.string().check(z.maxLength(500))),
  values: z.optional(z.array(z.string().check(z.maxLength(500))).check(z.maxLength(100))),
}).check(
  z.refine((s) => (s.value === undefined) !== (s.values === undefined), {
    message: "select needs exactly one of value or values",
    path: ["value"],
  }),
);
const checkStep = step("check", { target: targetSchema, checked: z._default(z.boolean(), true) });
/** The target's text contains `text`, or equals it (whitespace-normalised) with `exact: true`. */
const expectTextStep = step("expectText", {
  target: targetSchema,
  text: z.string().check(z.maxLength(2_000)),
  exact: z.optional(z.boolean()),
});
const expectVisibleStep = step("expectVisible", { target: targetSchema, visible: z._default(z.boolean(), true) });
/** The page URL equals `url` (absolute, or resolved against baseUrl), or matches `{ pattern }` (a regex). */
const expectUrlStep = step("expectUrl", { url: z.union([urlSchema, z.strictObject({ pattern: regexSchema })]) });
/** The page title equals `title` exactly. */
const expectTitleStep = step("expectTitle", { title: z.string().check(z.maxLength(500)) });
/** Waits for the target to be visible, or for a fixed time. */
const waitForStep = step("waitFor", {
  target: z.optional(targetSchema),
  ms: z.optional(z.int().check(z.minimum(1), z.maximum(60_000))),
}).check(
  z.refine((s) => (s.target === undefined) !== (s.ms === undefined), {
    message: "waitFor needs exactly one of target or ms",
    path: ["target"],
  }),
);
const screenshotStep = step("screenshot", { fullPage: z.optional(z.boolean()) });
/**
 * Waits until the waitpoint token with this idempotency key is completed (e.g. by a deploy hook). Here
 * `timeoutMs` is required: it is how long the token may take. The token's output is saved as `saveAs` for
 * `{{saveAs.…}}` templates in later steps.
 */
const waitForTokenStep = step("waitForToken", {
  idempotencyKey: text(200),
  timeoutMs: z.int().check(z.minimum(1_000), z.maximum(MAX_CASE_TIMEOUT_MS)),
  saveAs: z.optional(
    z
      .string()
      .check(
        z.regex(/^[A-Za-z_]\w{0,49}$/, "saveAs must be an identifier (letters, digits, _) of at most 50 characters"),
      ),
  ),
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

// zod/mini literals have no `.value`: the one literal is the first of `values`.
export const STEP_ACTIONS = stepOptions.map((option) => option.shape.action._zod.def.values[0]!);

export const stepSchema = z.discriminatedUnion("action", stepOptions, {
  error: (issue) => (issue.code === "invalid_union" ? `action must be one of ${STEP_ACTIONS.join(", ")}` : undefined),
});
export type Step = z.infer<typeof stepSchema>;
export type StepAction = Step["action"];

export const caseSchema = z
  .strictObject({
    name: text(200),
    steps: z.array(stepSchema).check(z.minLength(1), z.maxLength(200)),
    timeoutMs: z._default(z.int().check(z.minimum(1_000), z.maximum(MAX_CASE_TIMEOUT_MS)), 60_000),
    stepTimeoutMs: z._default(timeoutMs, 10_000),
    maxAttempts: z.optional(z.int().check(z.minimum(1), z.maximum(10))),
  })
  .check(
    z.superRefine((testCase, ctx) => {
      const saved = new Set<string>();
      testCase.steps.forEach((step, index) => {
        for (const name of templateVariables(step)) {
          if (!saved.has(name)) {
            const message = `{{${name}}} is not saved by an earlier waitForToken step (saveAs: "${name}")`;
            ctx.addIssue({ code: "custom", path: ["steps", index], message });
          }
        }
        if (step.timeoutMs !== undefined && step.timeoutMs > testCase.timeoutMs) {
          const message = `step timeoutMs ${step.timeoutMs} exceeds the case timeoutMs ${testCase.timeoutMs}`;
          ctx.addIssue({ code: "custom", path: ["steps", index, "timeoutMs"], message });
        }
        if (step.action === "waitForToken" && step.saveAs) saved.add(step.saveAs);
      });
    }),
  )
  .register(z.globalRegistry, {
    title: "flightcheck case",
    description: "A browser regression case: steps run in order in a fresh browser context.",
  });
export type Case = z.infer<typeof caseSchema>;
/** A case as authors write it (defaults not yet applied). */
export type CaseInput = z.input<typeof caseSchema>;
