/**
 * Publishes the case language as JSON Schema for editors and other tools: `node scripts/json-schema.ts`
 * rewrites `schema/case.schema.json`; a test fails when the committed file is stale.
 */
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import * as z from "../schema/zod.ts";
import { caseSchema } from "../schema/steps.ts";

export const CASE_SCHEMA_PATH = fileURLToPath(new URL("../schema/case.schema.json", import.meta.url));

/** The schema of a case as authors write it (`io: "input"`: fields with defaults are optional). */
export const caseJsonSchema = (): string => `${JSON.stringify(z.toJSONSchema(caseSchema, { io: "input" }), null, 2)}\n`;

if (import.meta.main) {
  writeFileSync(CASE_SCHEMA_PATH, caseJsonSchema());
  console.log(`wrote ${CASE_SCHEMA_PATH}`);
}
