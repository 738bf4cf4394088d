/**
 * A small, forgiving MIME walker (RFC 2045/2046/5322) for reports.
 *
 * Reports are parsed on the SMTP hot path, so this reads structure only: header fields,
 * multipart boundaries and message/rfc822 nesting. Bodies are decoded lazily, on demand.
 * Everything is worked on as a "binary" (latin1) string so that byte offsets survive and
 * 8-bit garbage cannot throw. Limits bound depth and part count (hostile nesting).
 */
import { isUtf8 } from 'node:buffer';
import iconv from 'iconv-lite';
import libmime from 'libmime';
import { tick } from './deadline.js';

/**
 * Message bytes held in a string, one character per octet ("latin1"/"binary"). Header
 * values and raw bodies are Binary; decoded text is a plain string. The brand lets the
 * compiler refuse decoded text where bytes are expected, so nothing is decoded twice
 * (UTF-8 read as bytes and decoded again gave `Gr��e` for `Grüße`).
 */
export type Binary = string & { readonly __binary: unique symbol };

/** Marks a string known to hold one octet per character (Buffer#toString('latin1')). */
export function asBinary(s: string): Binary {
  return s as Binary;
}

/** Text encoded as UTF-8 octets: how a header typed by a person is kept next to real ones. */
export function utf8Binary(s: string): Binary {
  // eslint-disable-next-line no-control-regex
  return (/[^\x00-\x7f]/.test(s) ? Buffer.from(s, 'utf8').toString('latin1') : s) as Binary;
}

/** `s` without trailing spaces and tabs: a linear scan (a `[ \t]+$` regex is quadratic). */
export function trimSpaceEnd(s: string): string {
  let end = s.length;
  while (end > 0 && (s.charCodeAt(end - 1) === 32 || s.charCodeAt(end - 1) === 9)) end--;
  return end === s.length ? s : s.slice(0, end);
}

/** RFC 5322 §2.1.1: a line is at most 998 octets; the rest of a longer one is dropped. */
export const MAX_LINE_OCTETS = 998;

export interface MimeLimits {
  maxDepth: number;
  maxParts: number;
}

export const DEFAULT_MIME_LIMITS: MimeLimits = { maxDepth: 20, maxParts: 500 };

export class HeaderList {
  /** Fields in order, names lower-cased, values unfolded and raw (not RFC 2047-decoded). */
  readonly fields: Array<[string, Binary]>;

  constructor(fields: Array<[string, Binary]>) {
    this.fields = fields;
  }

  get(name: string): Binary | undefined {
    const n = name.toLowerCase();
    for (const [k, v] of this.fields) if (k === n) return v;
    return undefined;
  }

  getAll(name: string): Binary[] {
    const n = name.toLowerCase();
    const out: Binary[] = [];
    for (const [k, v] of this.fields) if (k === n) out.push(v);
    return out;
  }

  /** The value with RFC 2047 encoded words decoded and 8-bit bytes read as UTF-8. */
  decoded(name: string): string | undefined {
    const v = this.get(name);
    return v === undefined ? undefined : decodeHeaderValue(v);
  }

  /**
   * A structured field (addresses, ids) as text: 8-bit bytes read as UTF-8 (RFC 6532), RFC
   * 2047 words left alone (they may only stand in display names and comments, and decoding
   * them could put a `,` or `<` into the list).
   */
  text(name: string): string | undefined {
    const v = this.get(name);
    return v === undefined ? undefined : bytesToText(v);
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }
}

export interface MimePart {
  headers: HeaderList;
  /** Lower-cased media type, e.g. "text/plain"; "text/plain" when absent (RFC 2045 §5.2). */
  type: string;
  params: Record<string, string>;
  /** Raw body as a binary string, still transfer-encoded. */
  rawBody: Binary;
  /** Sub-parts of a multipart, or the single enclosed message of message/rfc822. */
  children: MimePart[];
  depth: number;
}

/** Bytes before the blank line that ends the header block (the whole message if none). */
export function headerBytes(raw: Buffer): number {
  const crlf = raw.indexOf('\r\n\r\n');
  const lf = raw.indexOf('\n\n');
  const ends = [crlf, lf].filter((i) => i >= 0);
  return ends.length ? Math.min(...ends) : raw.length;
}

/**
 * Header block and body of an entity, line endings already normalised to LF. A MIME part
 * may have no header fields at all (it then starts with the blank line, RFC 2046 §5.1.1).
 */
function splitHead(src: Binary): { head: Binary; body: Binary } {
  if (src.startsWith('\n')) return { head: '' as Binary, body: src.slice(1) as Binary };
  const i = src.indexOf('\n\n');
  if (i < 0) return { head: src, body: '' as Binary };
  return { head: src.slice(0, i) as Binary, body: src.slice(i + 2) as Binary };
}

/** Blank lines before a message's header block (some relays add one): not an empty header. */
function skipLeadingBlankLines(src: Binary): Binary {
  let i = 0;
  for (;;) {
    let j = i;
    while (j < src.length && (src.charCodeAt(j) === 32 || src.charCodeAt(j) === 9)) j++;
    if (src.charCodeAt(j) !== 10) break;
    i = j + 1;
  }
  return (i === 0 ? src : src.slice(i)) as Binary;
}

/**
 * The start of a header field line: its name (RFC 5322 §3.6.8, printable ASCII but the
 * colon) and the colon. Bounded: a name of a thousand characters is no field. The one
 * header-line pattern of the parsers (header blocks, pasted headers, flattened reports).
 */
export const FIELD_LINE = /^([!-9;-~]{1,76})[ \t]*:/;

/** Media types holding a whole enclosed message (RFC 2046 §5.2.1; message/global, RFC 6532 §3.7). */
const MESSAGE_TYPES = new Set(['message/rfc822', 'message/global']);
/** Media types holding an enclosed message's header section (RFC 6522 §4; "header" is a common misspelling). */
const HEADER_TYPES = new Set(['text/rfc822-headers', 'text/rfc822-header']);
/** Every type parseMime reads into one child part, the enclosed message (or its headers). */
export const ENCLOSED_TYPES: ReadonlySet<string> = new Set([...MESSAGE_TYPES, ...HEADER_TYPES]);

/**
 * Parses a header block (LF line ends) into unfolded fields (RFC 5322 §2.2.3). Each line is
 * cut at 998 octets (RFC 5322 §2.1.1): what is beyond is dropped, so no field value can
 * grow past what a conforming sender writes per line. (A header section larger than
 * smtp.maxHeaderBytes is quarantined before parsing, see ingest.ts.)
 */
export function parseHeaderBlock(head: Binary): HeaderList {
  const fields: Array<[string, Binary]> = [];
  const lines = head.split('\n');
  let start = 0;
  // An mbox "From " or ">From " line may precede the header fields of an enclosed message.
  while (start < lines.length && (lines[start].startsWith('From ') || lines[start].startsWith('>From '))) start++;
  for (let i = start; i < lines.length; i++) {
    tick();
    const line = lines[i].length > MAX_LINE_OCTETS ? lines[i].slice(0, MAX_LINE_OCTETS) : lines[i];
    if ((line.startsWith(' ') || line.startsWith('\t')) && fields.length > 0) {
      const last = fields[fields.length - 1];
      last[1] = (last[1] + ' ' + line.trim()) as Binary;
      continue;
    }
    const m = FIELD_LINE.exec(line);
    if (m) {
      fields.push([m[1].toLowerCase(), line.slice(m[0].length).trim() as Binary]);
      continue;
    }
    // Some MTAs (Apache James among them) fold a Content-Type parameter onto an
    // unindented line ("Content-Type: multipart/alternative;\nboundary=\"...\""). Not
    // RFC 5322 folding, but the parameter belongs to the field before it.
    const last = fields[fields.length - 1];
    if (last && PARAM_LINE.test(line) && (last[1].endsWith(';') || last[0].startsWith('content-'))) {
      last[1] = (last[1] + ' ' + line.trim()) as Binary;
    }
  }
  return new HeaderList(fields);
}

/** A MIME parameter (RFC 2045 §5.1, RFC 2231 §3) at the start of a line: `boundary="…"`, `name*0*=…`. */
const PARAM_LINE = /^[A-Za-z0-9!#$%&'+.^_`|~-]+(?:\*\d+)?\*?[ \t]*=/;

/** Normalises CRLF and lone CR line endings to LF. */
export function normaliseNewlines<T extends string>(s: T): T {
  if (s.indexOf('\r') < 0) return s;
  return s.replace(/\r\n?/g, '\n') as T;
}

export class MimeLimitError extends Error {
  readonly code = 'MIME_LIMIT';
}

/**
 * Parses a whole message. `input` is the raw bytes (or a binary string). Never throws on
 * malformed structure: what cannot be split stays one leaf part. Throws MimeLimitError
 * when nesting or part count exceed the limits.
 */
export function parseMime(input: Buffer | Binary, limits: MimeLimits = DEFAULT_MIME_LIMITS): MimePart {
  const src = normaliseNewlines(typeof input === 'string' ? input : asBinary(input.toString('latin1')));
  const counter = { parts: 0 };
  return parseEntity(skipLeadingBlankLines(src), 0, limits, counter, false);
}

function parseEntity(
  src: Binary,
  depth: number,
  limits: MimeLimits,
  counter: { parts: number },
  headersOnly: boolean,
): MimePart {
  if (depth > limits.maxDepth) throw new MimeLimitError(`MIME nesting deeper than ${limits.maxDepth}`);
  if (++counter.parts > limits.maxParts) throw new MimeLimitError(`more than ${limits.maxParts} MIME parts`);
  tick();
  const { head, body } = splitHead(src);
  const headers = parseHeaderBlock(head);
  const ct = headers.get('content-type');
  let type = 'text/plain';
  let params: Record<string, string> = {};
  if (ct) {
    const parsed = libmime.parseHeaderValue(ct);
    const value = String(parsed.value || '').toLowerCase().trim();
    if (/^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/.test(value)) type = value;
    params = lowerKeys(parsed.params as Record<string, string>);
  }
  const part: MimePart = { headers, type, params, rawBody: headersOnly ? ('' as Binary) : body, children: [], depth };
  if (type.startsWith('multipart/') && params.boundary) {
    for (const chunk of splitMultipart(body, params.boundary)) {
      part.children.push(parseEntity(chunk, depth + 1, limits, counter, false));
    }
  } else if (MESSAGE_TYPES.has(type)) {
    const inner = decodeTransferBinary(body, headers.get('content-transfer-encoding'));
    part.children.push(parseEntity(skipLeadingBlankLines(normaliseNewlines(inner)), depth + 1, limits, counter, false));
  } else if (HEADER_TYPES.has(type)) {
    // RFC 6522 §4: the header fields only. Some MTAs put the body after them: the block ends
    // at the first blank line, or a body line "Return-Path: <…>" would be read as a header.
    const inner = decodeTransferBinary(body, headers.get('content-transfer-encoding'));
    part.children.push(parseEntity(skipLeadingBlankLines(normaliseNewlines(inner)), depth + 1, limits, counter, true));
  }
  return part;
}

function lowerKeys(o: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(o || {})) out[k.toLowerCase()] = String(o[k]);
  return out;
}

/**
 * Where the delimiter line at `at` (which starts with `delim`) is one (RFC 2046 §5.1.1: the
 * delimiter followed only by `--`, transport padding, and the line end): 'part', 'close',
 * or null when the line merely starts with the same characters (`--=_b` in `--=_b_alt`).
 */
function delimiterKind(body: Binary, at: number, delim: string): 'part' | 'close' | null {
  let i = at + delim.length;
  let kind: 'part' | 'close' = 'part';
  if (body.startsWith('--', i)) {
    kind = 'close';
    i += 2;
  }
  while (i < body.length && (body.charCodeAt(i) === 32 || body.charCodeAt(i) === 9)) i++;
  return i >= body.length || body.charCodeAt(i) === 10 ? kind : null;
}

/** Offset of the next delimiter line at or after `from` (a line start), or -1. */
function nextDelimiter(body: Binary, from: number, delim: string): number {
  let at = from === 0 && body.startsWith(delim) ? 0 : body.indexOf('\n' + delim, Math.max(0, from - 1));
  while (at >= 0) {
    tick();
    const start = at === 0 && body.startsWith(delim) ? 0 : at + 1;
    if (delimiterKind(body, start, delim)) return start;
    at = body.indexOf('\n' + delim, start + 1);
  }
  return -1;
}

/** Splits a multipart body at its delimiter lines (RFC 2046 §5.1.1); forgives a missing close. */
function splitMultipart(body: Binary, boundary: string): Binary[] {
  const delim = '--' + boundary;
  const parts: Binary[] = [];
  let pos = nextDelimiter(body, 0, delim);
  while (pos >= 0) {
    if (delimiterKind(body, pos, delim) === 'close') break;
    const lineEnd = body.indexOf('\n', pos);
    if (lineEnd < 0) break;
    const start = lineEnd + 1;
    const next = nextDelimiter(body, start, delim);
    if (next < 0) {
      parts.push(body.slice(start) as Binary);
      break;
    }
    // The line break before a delimiter belongs to the delimiter (RFC 2046 §5.1.1).
    parts.push(body.slice(start, Math.max(start, next - 1)) as Binary);
    pos = next;
  }
  return parts;
}

/** Undoes Content-Transfer-Encoding; unknown encodings pass through. */
export function decodeTransfer(raw: Binary, cte: string | undefined): Buffer {
  const enc = (cte || '').trim().toLowerCase();
  if (enc === 'base64') return Buffer.from(raw.replace(/[^A-Za-z0-9+/]/g, ''), 'base64');
  if (enc === 'quoted-printable') return Buffer.from(decodeQP(raw), 'latin1');
  return Buffer.from(raw, 'latin1');
}

/**
 * decodeTransfer as a binary string. An enclosed message is nearly always 7bit or 8bit, and
 * may be most of a large report: the identity encodings return the text itself, not two
 * copies of it (a Buffer and a string) per level of nesting.
 */
function decodeTransferBinary(raw: Binary, cte: string | undefined): Binary {
  const enc = (cte || '').trim().toLowerCase();
  if (enc === 'base64') return asBinary(decodeTransfer(raw, cte).toString('latin1'));
  if (enc === 'quoted-printable') return decodeQP(raw);
  return raw;
}

/** RFC 2045 §6.7 quoted-printable, binary string in and out; forgives bad escapes. */
export function decodeQP(s: Binary): Binary {
  // Trailing white space of each line is transport padding (§6.7 rule 3); trimmed by a scan,
  // as /[ \t]+$/gm is quadratic on a long run of spaces that does not end a line.
  return s.split('\n').map(trimSpaceEnd).join('\n').replace(/=\n/g, '').replace(/=([0-9A-Fa-f]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16))) as Binary;
}

/**
 * Charset labels read as windows-1252, as browsers and mail clients do (WHATWG Encoding
 * §4.2): mail labelled Latin-1 is nearly always written on Windows, where 0x80–0x9F are
 * curly quotes, dashes and the euro sign, not control characters.
 */
const WINDOWS_1252 = new Set(['iso-8859-1', 'iso8859-1', 'iso_8859-1', 'latin1', 'latin-1', 'l1', 'cp819', 'ibm819', 'iso-ir-100', 'csisolatin1', 'windows-1252', 'cp1252', 'x-cp1252']);

/** Decodes bytes in a charset; unknown charsets are read as UTF-8 with replacement. */
export function decodeCharset(buf: Buffer, charset: string | undefined): string {
  const cs = (charset || 'utf-8').trim().toLowerCase();
  if (cs === 'utf-8' || cs === 'utf8' || cs === 'us-ascii' || cs === 'ascii') return buf.toString('utf8');
  if (WINDOWS_1252.has(cs)) return iconv.decode(buf, 'windows-1252');
  try {
    if (iconv.encodingExists(cs)) return iconv.decode(buf, cs);
  } catch {
    // fall through: a broken charset label must not fail the report
  }
  return buf.toString('utf8');
}

/** Decoded texts, per part: several readers ask for the same part, and a copy of 1 MiB is not free. */
const texts = new WeakMap<MimePart, string>();

/** The decoded text of a leaf part. */
export function partText(part: MimePart): string {
  let t = texts.get(part);
  if (t === undefined) {
    t = decodeCharset(decodeTransfer(part.rawBody, part.headers.get('content-transfer-encoding')), part.params.charset);
    texts.set(part, t);
  }
  return t;
}

/**
 * The octets of a leaf part, transfer encoding undone, charset not applied: what a
 * message or header block inside a part (a feedback report's fields, an .eml sent as
 * text/plain) is parsed from. Never feed partText() to the parser: its header values would
 * be decoded a second time.
 */
export function partBytes(part: MimePart): Binary {
  return decodeTransferBinary(part.rawBody, part.headers.get('content-transfer-encoding'));
}

/** Raw header octets as text: UTF-8 (RFC 6532), or windows-1252 when they are not UTF-8. */
export function bytesToText(v: Binary): string {
  // eslint-disable-next-line no-control-regex
  if (!/[\x80-\xff]/.test(v)) return v;
  const buf = Buffer.from(v, 'latin1');
  return isUtf8(buf) ? buf.toString('utf8') : iconv.decode(buf, 'windows-1252');
}

/** Header value with RFC 2047 words decoded; raw 8-bit read as UTF-8 (RFC 6532). */
export function decodeHeaderValue(v: Binary): string {
  const s = bytesToText(v);
  if (s.indexOf('=?') < 0) return s;
  try {
    return libmime.decodeWords(s);
  } catch {
    return s;
  }
}

/** Depth-first walk over a part tree. */
export function* walk(part: MimePart): Generator<MimePart> {
  yield part;
  for (const c of part.children) yield* walk(c);
}
