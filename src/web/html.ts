/**
 * Server-rendered HTML for the pages people use (unsubscribe, report page, desk console).
 *
 * One rule: every interpolation is escaped. `html\`<p>${text}</p>\`` escapes `text`;
 * markup built by `html` itself nests unescaped (it is already safe); anything else that
 * must go in as markup needs `trusted()`, named so that it stands out in review. Nothing a
 * reporter, recipient or customer typed may ever reach `trusted()`.
 */
import type { FastifyReply } from 'fastify';

const SAFE = Symbol('safe-html');

/** Markup known to be safe: produced by `html` or explicitly `trusted()`. */
export interface SafeHtml {
  readonly [SAFE]: true;
  readonly text: string;
}

const safe = (text: string): SafeHtml => ({ [SAFE]: true, text });
const isSafe = (v: unknown): v is SafeHtml => typeof v === 'object' && v !== null && (v as SafeHtml)[SAFE] === true;

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' };

/** Escapes text for element content and quoted attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"'`]/g, (c) => ESCAPES[c]);
}

/** Values an interpolation may take: text is escaped, arrays are joined, nullish and false print nothing. */
export type HtmlValue = SafeHtml | string | number | boolean | null | undefined | readonly HtmlValue[];

function render(v: HtmlValue): string {
  if (v === null || v === undefined || v === false) return '';
  if (isSafe(v)) return v.text;
  if (Array.isArray(v)) return v.map(render).join('');
  return escapeHtml(String(v));
}

/** The template tag: escapes every interpolation that is not already SafeHtml. */
export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): SafeHtml {
  let out = strings[0];
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1];
  return safe(out);
}

/** Markup from our own code that `html` cannot build (rare; never user input). */
export function trusted(markup: string): SafeHtml {
  return safe(markup);
}

/**
 * Headers of every HTML page: no inline script or style can run (a reporter's text is
 * shown, never executed), no framing (clickjacking of the desk's buttons), no sniffing,
 * no referrer leaking a token in the URL, no caching of pages that may carry a case.
 */
export const HTML_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
});

/** Sends a page with HTML_HEADERS. */
export function sendHtml(reply: FastifyReply, status: number, page: SafeHtml): FastifyReply {
  return reply.status(status).headers(HTML_HEADERS).send(page.text);
}

export interface LayoutOptions {
  lang: string;
  title: string;
  body: SafeHtml;
  /** Scripts under /assets/ (progressive enhancement only: every page works without them). */
  scripts?: readonly string[];
  /** Extra class on <body> (e.g. "desk" for the console's wider layout). */
  bodyClass?: string;
  /** Shown in the header and the footer. */
  operatorName?: string;
  /** Footer links, already built. */
  footer?: SafeHtml;
}

/** The shell every page shares: one stylesheet, a skip link, a header, main, a footer. */
export function layout(o: LayoutOptions): SafeHtml {
  return html`<!doctype html>
<html lang="${o.lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${o.title}</title>
<link rel="stylesheet" href="/assets/site.css">
${(o.scripts ?? []).map((s) => html`<script src="/assets/${s}" defer></script>`)}
</head>
<body class="${o.bodyClass ?? ''}">
<a class="skip" href="#main">${o.lang === 'de' ? 'Zum Inhalt springen' : 'Skip to main content'}</a>
<header class="top"><div class="wrap">${o.operatorName ?? ''}</div></header>
<main id="main" class="wrap">
${o.body}
</main>
${o.footer ? html`<footer class="wrap foot">${o.footer}</footer>` : ''}
</body>
</html>
`;
}
