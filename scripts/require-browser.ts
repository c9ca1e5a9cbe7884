/**
 * Whether a Chromium is there, and the one piece of advice when it is not: shared by the postinstall step
 * (scripts/install-browser.ts), `npm start` and `npm test`, so a missing browser stops each of them at once
 * with the same words instead of dozens of failures.
 */
import { type ResolvedChromium, resolveChromium, SYSTEM_CHROMIUM } from "../executor/browser.ts";

export function findChromium(env: NodeJS.ProcessEnv = process.env): ResolvedChromium | undefined {
  try {
    return resolveChromium(env);
  } catch {
    return undefined;
  }
}

export const browserAdvice = () =>
  "Install one with `sudo apt-get install chromium` (Debian/Ubuntu) or `npx playwright install chromium`, " +
  `or point CHROMIUM_PATH at a Chromium ${"\u2265"} 156; then run this again. ` +
  `(Looked for CHROMIUM_PATH, Playwright's download and ${SYSTEM_CHROMIUM}.)`;

/** Throws one readable error when no browser can be found. */
export function requireBrowser(env: NodeJS.ProcessEnv = process.env): ResolvedChromium {
  const found = findChromium(env);
  if (!found) throw new Error(`No Chromium found. ${browserAdvice()}`);
  return found;
}
