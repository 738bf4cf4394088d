/**
 * The readable text of abuse@ mail: text leaves, HTML turned into text (html.ts), folded
 * for matching labels and phrases. Bounded: plenty for any complaint, finite for hostile input.
 */
import { htmlToText } from '../html.js';
import { ENCLOSED_TYPES, type MimePart, partText } from '../mime.js';

/** Text read for analysis, per source. */
export const MAX_TEXT = 256 * 1024;

/** Lower case without diacritics, typographic apostrophes as ASCII: for matching labels and phrases. */
export function fold(s: string): string {
  // eslint-disable-next-line no-control-regex
  if (!/[^\x00-\x7f]/.test(s)) return s.toLowerCase();
  return s
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[\u2018\u2019\u02bc]/g, "'")
    .toLowerCase();
}

function leafText(p: MimePart): string | null {
  if (p.type === 'text/plain' || p.type === 'text/enriched') return partText(p);
  if (p.type === 'text/html') return htmlToText(partText(p));
  return null;
}

/**
 * The readable text of a message: its text leaves (plain preferred over HTML in an
 * alternative, or both with `everyAlternative`), enclosed messages included only when
 * `enclosed` is true. Bounded.
 */
export function readableText(part: MimePart, enclosed: boolean, everyAlternative = false): string {
  const out: string[] = [];
  let size = 0;
  const visit = (p: MimePart, top: boolean): void => {
    if (size >= MAX_TEXT) return;
    if (!top && ENCLOSED_TYPES.has(p.type)) {
      if (enclosed) for (const c of p.children) visit(c, false);
      return;
    }
    if (p.children.length === 0) {
      const t = leafText(p);
      if (t) {
        out.push(t);
        size += t.length;
      }
      return;
    }
    if (p.type === 'multipart/alternative' && !everyAlternative) {
      const plain = p.children.find((c) => c.type === 'text/plain' && c.rawBody.trim() !== '');
      visit(plain ?? p.children.find((c) => c.type !== 'text/plain') ?? p.children[0], false);
      return;
    }
    for (const c of p.children) visit(c, false);
  };
  visit(part, true);
  const s = out.join('\n');
  return s.length > MAX_TEXT ? s.slice(0, MAX_TEXT) : s;
}
