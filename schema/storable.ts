/** Values Postgres can store, checked at the edge so bad input is a 422 and never a database error. */
import * as z from "./zod.ts";

/**
 * Postgres stores neither NUL characters nor unpaired surrogates (text or jsonb), and refuses very deep
 * jsonb: refuse them up front, as a 422 rather than a database error.
 */
export const isStorableText = (text: string) => !text.includes("\u0000") && text.isWellFormed();
const MAX_JSON_DEPTH = 64;
export const STORABLE = {
  message: `text may not contain NUL (\\u0000) or unpaired surrogates, nor nest deeper than ${MAX_JSON_DEPTH} levels`,
};

export function isStorableJson(value: unknown, depth = 0): boolean {
  if (typeof value === "string") return isStorableText(value);
  if (!value || typeof value !== "object") return true;
  if (depth >= MAX_JSON_DEPTH) return false;
  if (Array.isArray(value)) return value.every((item) => isStorableJson(item, depth + 1));
  return Object.entries(value).every(([key, item]) => isStorableText(key) && isStorableJson(item, depth + 1));
}

/** The first `max` UTF-16 units of `value`, one fewer where the cut would split a surrogate pair (an emoji). */
export function cutText(value: string, max: number): string {
  if (value.length <= max) return value;
  const last = value.charCodeAt(max - 1);
  return value.slice(0, last >= 0xd800 && last <= 0xdbff ? max - 1 : max);
}

export const text = (max: number) =>
  z.string().check(z.minLength(1), z.maxLength(max), z.refine(isStorableText, STORABLE));
export const json = z.unknown().check(z.refine(isStorableJson, STORABLE));
