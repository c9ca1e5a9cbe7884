/**
 * Template values in case steps: `{{preview.url}}` in any string field is replaced, when the step runs, by the
 * output a `waitForToken` step saved with `saveAs: "preview"` (then an optional property path). Shared by the
 * case schema (a template naming nothing saved earlier is a 422 at trigger time) and the executor.
 */

/** `{{ name }}` or `{{ name.some.path }}`; anything else between braces is left as literal text. */
const TEMPLATE = /\{\{\s*([A-Za-z_]\w*)((?:\.[\w-]+)*)\s*\}\}/g;

export class TemplateError extends Error {
  override name = "TemplateError";
}

/** The variable names used by templates anywhere in `value`'s strings. */
export function templateVariables(value: unknown): string[] {
  const names = new Set<string>();
  visitStrings(value, (text) => {
    for (const match of text.matchAll(TEMPLATE)) names.add(match[1]!);
    return text;
  });
  return [...names];
}

/** A copy of `step` with every template replaced; throws a TemplateError naming an unknown variable or property. */
export function interpolate<T>(step: T, variables: Readonly<Record<string, unknown>>): T {
  return visitStrings(step, (text) =>
    text.replace(TEMPLATE, (template, name: string, path: string) => {
      if (!Object.hasOwn(variables, name)) {
        const known = Object.keys(variables);
        throw new TemplateError(
          `unknown template variable "${name}" in ${template}: no earlier waitForToken step saved it` +
            (known.length > 0 ? ` (saved: ${known.join(", ")})` : ""),
        );
      }
      let value = variables[name];
      let reached = name;
      for (const key of path.split(".").slice(1)) {
        value = isRecord(value) && Object.hasOwn(value, key) ? value[key] : undefined;
        if (value === undefined) throw new TemplateError(`${template}: ${reached} has no property "${key}"`);
        reached += `.${key}`;
      }
      if (value === null || value === undefined) throw new TemplateError(`${template}: ${reached} is ${value}`);
      return typeof value === "object" ? JSON.stringify(value) : String(value);
    }),
  );
}

function visitStrings<T>(value: T, replace: (text: string) => string): T {
  if (typeof value === "string") return replace(value) as T;
  if (Array.isArray(value)) return value.map((item) => visitStrings(item, replace)) as T;
  if (isRecord(value)) {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, visitStrings(item, replace)])) as T;
  }
  return value;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);
