/**
 * The one HTML-to-text of the parsers (abuse reports, bounces whose only text is HTML).
 * A linear scan over the markup with `indexOf`, no DOM and no regular expression that could
 * backtrack over a run of `<`; entities decoded in full by the `entities` package (the HTML
 * Standard's table, `&commat;` and legacy forms without a semicolon included).
 */
import { decodeHTML } from 'entities';
import { trimSpaceEnd } from './mime.js';
import { tick } from './deadline.js';

/** Markup read, at most: plenty for any report, bounded for hostile input. */
const MAX_HTML = 512 * 1024;
/** A link's attributes are read from this much of its tag (a URL is far shorter). */
const MAX_TAG = 4096;

const BLOCK_TAGS = new Set([
  'address', 'article', 'aside', 'blockquote', 'center', 'dd', 'div', 'dl', 'dt', 'footer', 'form', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6',
  'header', 'hr', 'li', 'main', 'nav', 'ol', 'p', 'pre', 'section', 'table', 'tbody', 'thead', 'tfoot', 'tr', 'ul',
]);
const SKIP_CONTENT = new Set(['script', 'style', 'head', 'title', 'template', 'noscript']);
/**
 * Readable text of an HTML body: block elements and <br> end lines, table cells are
 * separated by a space, script/style/head are dropped, entities decoded, a link's URL kept
 * after its text ("label <url>") so that a footer link survives. A linear scan, no DOM.
 */
export function htmlToText(html: string): string {
  const src = html.length > MAX_HTML ? html.slice(0, MAX_HTML) : html;
  const out: string[] = [];
  let atLineStart = true;
  let pre = 0;
  const hrefs: Array<string | null> = [];
  let lower: string | undefined;
  let nextGt = 0;
  const emit = (s: string): void => {
    if (s === '') return;
    out.push(s);
    atLineStart = s.endsWith('\n');
  };
  const newline = (): void => {
    out.push('\n');
    atLineStart = true;
  };
  const text = (raw: string): void => {
    let t = decodeHTML(raw);
    if (pre === 0) t = t.replace(/[ \t\r\n\f\u00a0]+/g, ' ');
    if (atLineStart && pre === 0 && t.startsWith(' ')) t = t.slice(1);
    emit(t);
  };
  let i = 0;
  while (i < src.length) {
    tick();
    const lt = src.indexOf('<', i);
    if (lt < 0) {
      text(src.slice(i));
      break;
    }
    if (lt > i) text(src.slice(i, lt));
    if (src.startsWith('<!--', lt)) {
      const end = src.indexOf('-->', lt + 4);
      if (end < 0) break;
      i = end + 3;
      continue;
    }
    if (nextGt <= lt) nextGt = src.indexOf('>', lt + 1);
    if (nextGt < 0) {
      text(src.slice(lt));
      break;
    }
    const gt = nextGt;
    const tag = gt < 0 ? null : /^<(\/?)([A-Za-z][A-Za-z0-9]*)/.exec(src.slice(lt, Math.min(gt + 1, lt + 64)));
    if (!tag) {
      if (gt >= 0 && /^<[!?/]/.test(src.slice(lt, lt + 2))) {
        i = gt + 1; // <!DOCTYPE>, <?xml?>, a broken end tag
      } else {
        text('<'); // a stray "<" in the text
        i = lt + 1;
      }
      continue;
    }
    i = gt + 1;
    const closing = tag[1] === '/';
    const name = tag[2].toLowerCase();
    if (!closing && SKIP_CONTENT.has(name)) {
      lower ??= src.toLowerCase();
      const end = lower.indexOf('</' + name, i);
      if (end < 0) break;
      const endGt = src.indexOf('>', end);
      i = endGt < 0 ? src.length : endGt + 1;
      continue;
    }
    if (name === 'br') {
      newline();
    } else if (name === 'a') {
      if (!closing) {
        const m = /\bhref\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))/i.exec(src.slice(lt, Math.min(i, lt + MAX_TAG)));
        const href = m ? decodeHTML(m[1] ?? m[2] ?? m[3] ?? '').trim() : '';
        hrefs.push(/^https?:/i.test(href) ? href : null);
      } else {
        const href = hrefs.pop();
        if (href && !out.slice(-4).join('').includes(href)) emit(` <${href}>`);
      }
    } else if (name === 'td' || name === 'th') {
      if (closing && !atLineStart) emit(' ');
    } else if (BLOCK_TAGS.has(name)) {
      if (name === 'pre') pre = Math.max(0, pre + (closing ? -1 : 1));
      if (!atLineStart) newline();
    }
  }
  return out
    .join('')
    .split('\n')
    .map(trimSpaceEnd)
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

