/**
 * The HTML around every page: head, style sheet, the header and main landmarks, the live script while
 * there is something to watch, and the headers that keep a page's token private (no referrer, no cache).
 */
import { html } from "hono/html";
import { PAGE_TOKEN_TTL_SECONDS } from "../runs/tokens.ts";
import type { Html } from "./format.ts";

export interface PageContent {
  title: string;
  body: Html;
  /** The live WebSocket's path and token while the subject can still change; a final page has none. */
  live?: { path: string; since: number };
}

/** A page's response: HTML whose own style sheet and live script (static/pages/) are all its CSP allows. */
export async function htmlPage(
  { title, body, live }: PageContent,
  status = 200,
  headers: Record<string, string> = {},
): Promise<Response> {
  const document = await html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="robots" content="noindex"><title>${title}</title><link rel="stylesheet" href="/pages/page.css"></head>
<body><header><span>flightcheck</span></header>
<main${live ? html` data-live="${live.path}" data-since="${live.since}"` : ""}>${body}</main>${
    live ? html`<script src="/pages/live.js"></script>` : ""
  }</body></html>`;
  return new Response(document, {
    status,
    headers: {
      ...headers,
      "content-type": "text/html; charset=utf-8",
      // The address carries the page token: never cached, never sent on as a referrer.
      "cache-control": "no-store",
      "referrer-policy": "no-referrer",
      "x-content-type-options": "nosniff",
      "content-security-policy": [
        "default-src 'none'",
        "style-src 'self'",
        "script-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
      ].join("; "),
    },
  });
}

export type ErrorStatus = 400 | 401 | 404 | 500 | 503;

const ERRORS: Record<ErrorStatus, [title: string, message: string]> = {
  400: ["Not a run address", "This address does not name a run or a suite run. Check that the whole link was copied."],
  401: [
    "This link does not work",
    `The link is incomplete, was changed, or has expired (links work for ${PAGE_TOKEN_TTL_SECONDS / 86_400} days). ` +
      "Ask for a new link; re-running the check on GitHub makes one.",
  ],
  404: ["Not found", "There is nothing at this address that this link opens."],
  500: ["Something went wrong", "This page could not be shown. Try again in a moment."],
  503: ["Temporarily unavailable", "The run's records cannot be reached right now. Try again in a moment."],
};

/** An error as a page: what happened and what to do, and nothing about the run asked for. */
export function errorPage(status: ErrorStatus, headers?: Record<string, string>): Promise<Response> {
  const [title, message] = ERRORS[status];
  const body = html`<h1>${title}</h1><p>${message}</p>`;
  return htmlPage({ title: `${title} · flightcheck`, body }, status, headers);
}
