/**
 * Messages forwarded inline or pasted into a report's text: pasted raw header blocks, and
 * the forward blocks mail clients write (a separator line, then labelled fields). Found by
 * the separators and labels the common clients write (config/abuse-words.yaml), not by
 * recognising any particular message.
 */
import { FIELD_LINE, HeaderList, parseHeaderBlock, utf8Binary as binary } from '../mime.js';
import { firstAddress } from '../arf.js';
import { tick } from '../deadline.js';
import { stripQuotes } from '../quote.js';
import { domainOf } from './domains.js';
import { fold, MAX_TEXT } from './text.js';
import { abuseWords } from './words.js';

/**
 * A forward block's label line: "From: …", "**Von:** …" (an HTML forward's bold labels as
 * text), "De : …" (French typography puts a space before the colon). The label is short.
 */
const LABEL_LINE = /^[ \t]*\*{0,2}([^\s:*<>][^:*<>\n]{0,24}?)[ \t]*\*{0,2}[ \t]*:(?:[ \t]|$)[ \t]*\*{0,2}[ \t]*(.*)$/;
/** Fields only a real message header block has (as opposed to a client's forward block). */
const TECHNICAL = /^(?:received|return-path|message-id|dkim-signature|authentication-results|arc-[a-z-]+|mime-version|content-type|delivered-to|list-unsubscribe|list-id|feedback-id|received-spf|x-[a-z0-9-]+)$/;
const MESSAGE_FIELDS = /^(?:from|sender|to|cc|subject|date|reply-to|received|return-path|message-id|dkim-signature|mime-version|content-type|list-unsubscribe|in-reply-to|references)$/;

interface Block {
  kind: 'raw' | 'display';
  /** Index of the first and one past the last line. */
  start: number;
  end: number;
  headers: HeaderList;
  /** A separator line directly above. */
  separated: boolean;
}

function labelOf(line: string): { field: string; value: string } | null {
  const m = LABEL_LINE.exec(line);
  if (!m) return null;
  const field = abuseWords().labels.get(fold(m[1]).trim());
  let value = m[2];
  let end = value.length;
  while (end > 0 && value.charCodeAt(end - 1) === 42) end--; // Outlook's bold markers: "**"
  value = value.slice(0, end);
  return field ? { field, value: value.trim() } : null;
}

/** "Name [mailto:a@b]" (Outlook's plain text) → "Name <a@b>". */
function cleanValue(v: string): string {
  // An address has no '[' and is at most 320 octets: the bound keeps the scan linear.
  return v.replace(/\[mailto:([^[\]\s]{1,320})\]/gi, '<$1>').trim();
}

/**
 * Outlook on some devices writes "From: A Sent: B To: C Subject: D" on one line: split a
 * line that starts with a From label and holds two more labels.
 */
function splitRunOn(line: string): string[] {
  const first = labelOf(line);
  if (!first || first.field !== 'from') return [line];
  const cuts: number[] = [];
  const { labels } = abuseWords();
  const re = /\s(\*{0,2}[\p{L}][\p{L}-]{0,14}\*{0,2})[ \t]*:\s/gu;
  for (const m of line.matchAll(re)) {
    if (labels.has(fold(m[1].replace(/\*/g, '')).trim())) cuts.push(m.index! + 1);
  }
  if (cuts.length < 2) return [line];
  const parts: string[] = [];
  let at = 0;
  for (const c of cuts) {
    parts.push(line.slice(at, c).trimEnd());
    at = c;
  }
  parts.push(line.slice(at));
  return parts;
}

/** Lines with quote markers ("> ") removed and run-on Outlook blocks split. */
function lines(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.replace(/\r\n?/g, '\n').replace(/\u00a0/g, ' ').split('\n')) {
    const l = stripQuotes(raw);
    if (l.length > 20 && l.length < 1000) out.push(...splitRunOn(l));
    else out.push(l);
  }
  return out;
}

/** Header blocks in the text: runs of field lines, classified as raw headers or a forward block. */
function blocks(ls: string[]): Block[] {
  const found: Block[] = [];
  const { separator } = abuseWords();
  let separated = false;
  let i = 0;
  while (i < ls.length && found.length < 20) {
    tick();
    const line = ls[i];
    if (separator.test(fold(line))) {
      separated = true;
      i++;
      continue;
    }
    if (line.trim() === '') {
      i++;
      continue;
    }
    if (!FIELD_LINE.test(line) && !labelOf(line)) {
      // A rule line (Outlook's ____) may sit between the separator and the block.
      if (!/^[\s_\-=]{8,}$/.test(line)) separated = false;
      i++;
      continue;
    }
    const { found: b, end } = block(ls, i, separated);
    if (b) found.push(b);
    separated = false;
    i = Math.max(i + 1, end);
  }
  return found;
}

/** The run of field lines from `start`: a block when it reads as one; `end` either way. */
function block(ls: string[], start: number, separated: boolean): { found: Block | null; end: number } {
  const raw: string[] = [];
  const display: Array<[string, string]> = [];
  let onlyLabels = true;
  let lastWasLabel = false;
  let j = start;
  while (j < ls.length) {
    tick();
    const line = ls[j];
    const label = labelOf(line);
    if (label || FIELD_LINE.test(line)) {
      raw.push(line);
      if (label) display.push([label.field, cleanValue(label.value)]);
      else onlyLabels = false;
      lastWasLabel = !!label;
      j++;
      continue;
    }
    if (/^[ \t]+\S/.test(line) && raw.length > 0) {
      // folded continuation (RFC 5322 §2.2.3)
      raw.push(line);
      if (lastWasLabel) display[display.length - 1][1] += ' ' + line.trim();
      j++;
      continue;
    }
    if (line.trim() === '') {
      // Clients that render each field in its own paragraph (Apple Mail, HTML forwards):
      // the block goes on when the next non-blank line is a label not seen yet.
      let k = j + 1;
      while (k < ls.length && k - j <= 2 && ls[k].trim() === '') k++;
      const next = k < ls.length ? labelOf(ls[k]) : null;
      if (next && onlyLabels && display.length > 0 && !display.some(([f]) => f === next.field)) {
        j = k;
        continue;
      }
      break;
    }
    // A wrapped address list (Outlook does not indent the rest of a long To: line).
    const last = display[display.length - 1];
    if (lastWasLabel && onlyLabels && (last[0] === 'to' || last[0] === 'cc') && /@/.test(line) && !/:/.test(line)) {
      last[1] += ' ' + line.trim();
      j++;
      continue;
    }
    break;
  }
  const names = raw.map((l) => FIELD_LINE.exec(l)?.[1].toLowerCase() ?? '');
  const technical = names.some((n) => TECHNICAL.test(n));
  const messageFields = names.filter((n) => MESSAGE_FIELDS.test(n)).length;
  const anchored = names.some((n) => /^(?:from|received|return-path|message-id|dkim-signature)$/.test(n));
  if (technical && anchored && messageFields >= 2) {
    return { found: { kind: 'raw', start, end: j, headers: parseHeaderBlock(binary(raw.join('\n'))), separated }, end: j };
  }
  const fields = new Set(display.map(([f]) => f));
  const enough = separated
    ? fields.has('from') || (fields.has('subject') && fields.size >= 2)
    : fields.has('from') && fields.has('subject') && (fields.has('date') || fields.has('to'));
  if (!enough) return { found: null, end: j };
  return { found: { kind: 'display', start, end: j, headers: new HeaderList(display.map(([f, v]) => [f, binary(v)])), separated }, end: j };
}

export interface InlineOriginal {
  headers: HeaderList;
  /** The text after the header block: the forwarded message's body. */
  body: string;
  /** The text before it: the reporter's own words. */
  before: string;
  found: 'inline' | 'headers-only';
}

/**
 * A message forwarded inline or pasted into `text`: pasted raw headers first (they carry
 * the most: Received, DKIM, the token header), else a client's forward block. A forward
 * block sent from the reporter's own domain with another one after it is a colleague's
 * forward of the spam: the inner one is taken.
 */
export function inlineOriginal(text: string, reporterDomain: string | null = null): InlineOriginal | null {
  const ls = lines(text.length > MAX_TEXT ? text.slice(0, MAX_TEXT) : text);
  const all = blocks(ls);
  if (all.length === 0) return null;
  const raw = all.find((b) => b.kind === 'raw');
  let chosen: Block | undefined = raw;
  if (!chosen) {
    const shown = all.filter((b) => b.kind === 'display');
    let k = 0;
    while (k < shown.length - 1 && reporterDomain && domainOf(firstAddress(shown[k].headers.get('from'))) === reporterDomain) k++;
    chosen = shown[k];
  }
  if (!chosen) return null;
  const body = ls.slice(chosen.end).join('\n').replace(/^\n+/, '');
  const found = chosen.kind === 'raw' && !chosen.separated && body.trim() === '' ? 'headers-only' : 'inline';
  return { headers: chosen.headers, body, before: ls.slice(0, all[0].start).join('\n'), found };
}
