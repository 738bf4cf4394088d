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

/**
 * Entities decoded by the HTML Standard's rules (the `entities` package), handed only the
 * characters that can form one: `&` then up to 32 letters, digits or `#`, and a `;`. A run
 * of ten thousand `&` costs a scan, not ten thousand decoder calls.
 */
export function decodeEntities(s: string): string {
  let i = s.indexOf('&');
  if (i < 0) return s;
  let out = '';
  let from = 0;
  while (i >= 0) {
    let j = i + 1;
    while (j < s.length && j - i <= 33) {
      const c = s.charCodeAt(j);
      if (!((c >= 48 && c <= 57) || ((c | 32) >= 97 && (c | 32) <= 122) || c === 35)) break;
      j++;
    }
    if (j === i + 1) {
      i = s.indexOf('&', j);
      continue;
    }
    if (s.charCodeAt(j) === 59) j++;
    out += s.slice(from, i) + decodeHTML(s.slice(i, j));
    from = j;
    i = s.indexOf('&', j);
  }
  return out + s.slice(from);
}

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
    let t = decodeEntities(raw);
    if (pre === 0) t = t.replace(/[ \t\r\n\f\u00a0]+/g, ' ');
    if (atLineStart && pre === 0 && t.startsWith(' ')) t = t.slice(1);
    emit(t);
  };
  // Text runs from `textFrom` to the next real tag; a stray "<" stays in the text, so a run
  // of ten thousand of them is one chunk, not ten thousand.
  let textFrom = 0;
  const flushTo = (end: number): void => {
    if (end > textFrom) text(src.slice(textFrom, end));
  };
  let i = 0;
  while (i < src.length) {
    tick();
    const lt = src.indexOf('<', i);
    if (lt < 0) break;
    if (src.startsWith('<!--', lt)) {
      flushTo(lt);
      const end = src.indexOf('-->', lt + 4);
      i = textFrom = end < 0 ? src.length : end + 3;
      continue;
    }
    if (nextGt <= lt) nextGt = src.indexOf('>', lt + 1);
    if (nextGt < 0) break; // no tag can close: the rest is text
    const gt = nextGt;
    const c = src.charCodeAt(lt + 1);
    const letter = (c | 32) >= 97 && (c | 32) <= 122;
    const tag = letter || c === 47 ? /^<(\/?)([A-Za-z][A-Za-z0-9]*)/.exec(src.slice(lt, Math.min(gt + 1, lt + 64))) : null;
    if (!tag) {
      if (c === 33 || c === 63 || c === 47) {
        flushTo(lt);
        i = textFrom = gt + 1; // <!DOCTYPE>, <?xml?>, a broken end tag
      } else {
        i = lt + 1; // a stray "<" in the text
      }
      continue;
    }
    flushTo(lt);
    textFrom = gt + 1;
    i = gt + 1;
    const closing = tag[1] === '/';
    const name = tag[2].toLowerCase();
    if (!closing && SKIP_CONTENT.has(name)) {
      lower ??= src.toLowerCase();
      const end = lower.indexOf('</' + name, i);
      const endGt = end < 0 ? -1 : src.indexOf('>', end);
      i = textFrom = endGt < 0 ? src.length : endGt + 1;
      continue;
    }
    if (name === 'br') {
      newline();
    } else if (name === 'a') {
      if (!closing) {
        const m = /\bhref\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))/i.exec(src.slice(lt, Math.min(i, lt + MAX_TAG)));
        const href = m ? decodeEntities(m[1] ?? m[2] ?? m[3] ?? '').trim() : '';
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
  flushTo(src.length);
  return out
    .join('')
    .split('\n')
    .map(trimSpaceEnd)
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

