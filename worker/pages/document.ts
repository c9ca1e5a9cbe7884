/**
 * The HTML around every page: head, inline styles, the header and main landmarks, the live script while
 * there is something to watch, and the headers that keep a page's token private (no referrer, no cache).
 */
import { html, raw } from "hono/html";
import { PAGE_TOKEN_TTL_SECONDS } from "../runs/tokens.ts";
import type { Html } from "./format.ts";

// Colours meet WCAG AA (≥ 4.5:1) on their backgrounds; one column of cards below 40rem, no sideways scroll.
const STYLE = `
:root{font:16px/1.5 system-ui,sans-serif;color:#1f2328;background:#fff}
body{margin:0}
header{background:#1f2328;color:#fff;padding:.5rem 1rem;font-weight:600}
main{max-width:64rem;margin:0 auto;padding:1rem}
h1{font-size:1.5rem;margin:0 0 .5rem;overflow-wrap:anywhere}
h2{font-size:1.125rem;margin:1.5rem 0 .5rem}
a{color:#0550ae}
:focus-visible{outline:2px solid #0550ae;outline-offset:2px}
.lead{font-size:1.125rem}
.facts{display:flex;flex-wrap:wrap;gap:.5rem 2rem;margin:1rem 0}
.facts dt{font-size:.875rem;color:#57606a}
.facts dd{margin:0;overflow-wrap:anywhere}
table{width:100%;border-collapse:collapse;margin:1rem 0}
caption{text-align:left;font-weight:600;padding:.25rem 0}
th,td{text-align:left;vertical-align:top;padding:.5rem;border-bottom:1px solid #d0d7de}
th[scope=row],td:last-child{overflow-wrap:anywhere}
thead th{font-size:.875rem;color:#57606a}
thead th,td{white-space:nowrap}td:last-child{white-space:normal}
figure{margin:.5rem 0}
pre{white-space:pre-wrap;overflow-wrap:anywhere;font-size:.875rem;background:#f6f8fa;padding:.5rem;margin:.25rem 0;
max-height:20rem;overflow-y:auto}
img{max-width:100%;height:auto;border:1px solid #d0d7de}
.st{white-space:nowrap;font-weight:600}.ok{color:#116329}.bad{color:#a40e26}.run{color:#7d4e00}.idle{color:#57606a}
.note{font-size:.875rem;color:#57606a}
@media (max-width:40rem){
table,caption,tbody,tr,th,td{display:block}
thead{position:absolute;width:1px;height:1px;overflow:hidden;clip-path:inset(50%)}
tr{display:grid;grid-template-columns:1fr auto auto;gap:.25rem .75rem;padding:.5rem 0;border-bottom:1px solid #d0d7de}
th,td{padding:0;border:0}
td:last-child{grid-column:1/-1}
td:empty{display:none}
}`;

export interface PageContent {
  title: string;
  body: Html;
  /** The live WebSocket's path and token while the subject can still change; a final page has none. */
  live?: { path: string; since: number };
}

const nonce = () => crypto.randomUUID().replaceAll("-", "");

/** A page's response: HTML whose inline style and our live script (static/pages/live.js) are all its CSP allows. */
export async function htmlPage(
  { title, body, live }: PageContent,
  status = 200,
  headers: Record<string, string> = {},
): Promise<Response> {
  const n = nonce();
  const document = await html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="robots" content="noindex"><title>${title}</title><style nonce="${n}">${raw(STYLE)}</style></head>
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
        `style-src 'nonce-${n}'`,
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
