/**
 * The zod every schema here is written in: the functional `zod/mini` build, which keeps the Worker bundle far
 * smaller than classic zod. zod/mini loads no locale, so issues would all read "Invalid input"; the English one
 * is loaded here, once, so the API's 422 problems name what is wrong (and stay as clients know them).
 */
import { en } from "zod/locales";
import { config } from "zod/mini";

config(en());

export * from "zod/mini";
