/**
 * A small, forgiving MIME walker (RFC 2045/2046/5322) for reports.
 *
 * Reports are parsed on the SMTP hot path, so this reads structure only: header fields,
 * multipart boundaries and message/rfc822 nesting. Bodies are decoded lazily, on demand.
 * Everything is worked on as a "binary" (latin1) string so that byte offsets survive and
 * 8-bit garbage cannot throw. Limits bound depth and part count (hostile nesting).
 */
import iconv from 'iconv-lite';
import libmime from 'libmime';

export interface MimeLimits {
  maxDepth: number;
  maxParts: number;
}

export const DEFAULT_MIME_LIMITS: MimeLimits = { maxDepth: 20, maxParts: 500 };

export class HeaderList {
  /** Fields in order, names lower-cased, values unfolded and raw (not RFC 2047-decoded). */
  readonly fields: Array<[string, string]>;

  constructor(fields: Array<[string, string]>) {
    this.fields = fields;
  }

  get(name: string): string | undefined {
    const n = name.toLowerCase();
    for (const [k, v] of this.fields) if (k === n) return v;
    return undefined;
  }

  getAll(name: string): string[] {
    const n = name.toLowerCase();
    const out: string[] = [];
    for (const [k, v] of this.fields) if (k === n) out.push(v);
    return out;
  }

  /** The value with RFC 2047 encoded words decoded and 8-bit bytes read as UTF-8. */
  decoded(name: string): string | undefined {
    const v = this.get(name);
    return v === undefined ? undefined : decodeHeaderValue(v);
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
  rawBody: string;
  /** Sub-parts of a multipart, or the single enclosed message of message/rfc822. */
  children: MimePart[];
  depth: number;
}

/** Header block and body of a message, line endings already normalised to LF. */
function splitHead(src: string): { head: string; body: string } {
  if (src.startsWith('\n')) return { head: '', body: src.slice(1) };
  const i = src.indexOf('\n\n');
  if (i < 0) return { head: src, body: '' };
  return { head: src.slice(0, i), body: src.slice(i + 2) };
}

const FIELD_NAME = /^([!-9;-~]+)[ \t]*:/;

/** Parses a header block (LF line ends) into unfolded fields (RFC 5322 §2.2.3). */
export function parseHeaderBlock(head: string): HeaderList {
  const fields: Array<[string, string]> = [];
  const lines = head.split('\n');
  let start = 0;
  // An mbox "From " or ">From " line may precede the header fields of an enclosed message.
  while (start < lines.length && /^>?From /.test(lines[start])) start++;
  for (let i = start; i < lines.length; i++) {
    const line = lines[i];
    if ((line.startsWith(' ') || line.startsWith('\t')) && fields.length > 0) {
      const last = fields[fields.length - 1];
      last[1] = last[1] + ' ' + line.trim();
      continue;
    }
    const m = FIELD_NAME.exec(line);
    if (m) {
      fields.push([m[1].toLowerCase(), line.slice(m[0].length).trim()]);
      continue;
    }
    // Some MTAs (Apache James among them) fold a Content-Type parameter onto an
    // unindented line ("Content-Type: multipart/alternative;\nboundary=\"...\""). Not
    // RFC 5322 folding, but the parameter belongs to the field before it.
    const last = fields[fields.length - 1];
    if (last && PARAM_LINE.test(line) && (last[1].endsWith(';') || last[0].startsWith('content-'))) {
      last[1] = last[1] + ' ' + line.trim();
    }
  }
  return new HeaderList(fields);
}

/** A MIME parameter (RFC 2045 §5.1, RFC 2231 §3) at the start of a line: `boundary="…"`, `name*0*=…`. */
const PARAM_LINE = /^[A-Za-z0-9!#$%&'+.^_`|~-]+(?:\*\d+)?\*?[ \t]*=/;

/** Normalises CRLF and lone CR line endings to LF. */
export function normaliseNewlines(s: string): string {
  if (s.indexOf('\r') < 0) return s;
  return s.replace(/\r\n?/g, '\n');
}

export class MimeLimitError extends Error {
  readonly code = 'MIME_LIMIT';
}

/**
 * Parses a whole message. `input` is the raw bytes (or a binary string). Never throws on
 * malformed structure: what cannot be split stays one leaf part. Throws MimeLimitError
 * when nesting or part count exceed the limits.
 */
export function parseMime(input: Buffer | string, limits: MimeLimits = DEFAULT_MIME_LIMITS): MimePart {
  const src = normaliseNewlines(typeof input === 'string' ? input : input.toString('latin1'));
  const counter = { parts: 0 };
  return parseEntity(src, 0, limits, counter, false);
}

function parseEntity(
  src: string,
  depth: number,
  limits: MimeLimits,
  counter: { parts: number },
  headersOnly: boolean,
): MimePart {
  if (depth > limits.maxDepth) throw new MimeLimitError(`MIME nesting deeper than ${limits.maxDepth}`);
  if (++counter.parts > limits.maxParts) throw new MimeLimitError(`more than ${limits.maxParts} MIME parts`);
  const { head, body } = headersOnly ? { head: src, body: '' } : splitHead(src);
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
  const part: MimePart = { headers, type, params, rawBody: body, children: [], depth };
  if (type.startsWith('multipart/') && params.boundary) {
    for (const chunk of splitMultipart(body, params.boundary)) {
      part.children.push(parseEntity(chunk, depth + 1, limits, counter, false));
    }
  } else if (type === 'message/rfc822' || type === 'message/global') {
    const inner = decodeTransferBinary(body, headers.get('content-transfer-encoding'));
    part.children.push(parseEntity(normaliseNewlines(inner), depth + 1, limits, counter, false));
  } else if (type === 'text/rfc822-headers' || type === 'text/rfc822-header') {
    const inner = decodeTransferBinary(body, headers.get('content-transfer-encoding'));
    part.children.push(parseEntity(normaliseNewlines(inner).replace(/^\n+/, ''), depth + 1, limits, counter, true));
  }
  return part;
}

function lowerKeys(o: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(o || {})) out[k.toLowerCase()] = String(o[k]);
  return out;
}

/** Splits a multipart body at its boundary lines (RFC 2046 §5.1.1); forgives a missing close. */
function splitMultipart(body: string, boundary: string): string[] {
  const delim = '--' + boundary;
  const parts: string[] = [];
  let pos = body.startsWith(delim) ? 0 : body.indexOf('\n' + delim);
  if (pos < 0) return parts;
  if (pos > 0) pos += 1;
  for (;;) {
    const lineEnd = body.indexOf('\n', pos);
    const delimLine = body.slice(pos, lineEnd < 0 ? body.length : lineEnd);
    if (delimLine.startsWith(delim + '--') || lineEnd < 0) break;
    const start = lineEnd + 1;
    let next = body.indexOf('\n' + delim, start - 1);
    // Boundary must begin a line; "\n--b" found at start-1 means an empty part.
    if (next < 0) {
      parts.push(body.slice(start));
      break;
    }
    parts.push(body.slice(start, Math.max(start, next)));
    pos = next + 1;
  }
  return parts;
}

/** Undoes Content-Transfer-Encoding; unknown encodings pass through. */
export function decodeTransfer(raw: string, cte: string | undefined): Buffer {
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
function decodeTransferBinary(raw: string, cte: string | undefined): string {
  const enc = (cte || '').trim().toLowerCase();
  if (enc === 'base64') return decodeTransfer(raw, cte).toString('latin1');
  if (enc === 'quoted-printable') return decodeQP(raw);
  return raw;
}

/** RFC 2045 §6.7 quoted-printable, binary string in and out; forgives bad escapes. */
export function decodeQP(s: string): string {
  return s.replace(/[ \t]+$/gm, '').replace(/=\n/g, '').replace(/=([0-9A-Fa-f]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16)));
}

/** Decodes bytes in a charset; unknown charsets are read as UTF-8 with replacement. */
export function decodeCharset(buf: Buffer, charset: string | undefined): string {
  const cs = (charset || 'utf-8').trim().toLowerCase();
  if (cs === 'utf-8' || cs === 'utf8' || cs === 'us-ascii' || cs === 'ascii') return buf.toString('utf8');
  if (cs === 'iso-8859-1' || cs === 'latin1') return buf.toString('latin1');
  try {
    if (iconv.encodingExists(cs)) return iconv.decode(buf, cs);
  } catch {
    // fall through: a broken charset label must not fail the report
  }
  return buf.toString('utf8');
}

/** The decoded text of a leaf part. */
export function partText(part: MimePart): string {
  return decodeCharset(decodeTransfer(part.rawBody, part.headers.get('content-transfer-encoding')), part.params.charset);
}

/** Header value with RFC 2047 words decoded; raw 8-bit read as UTF-8 (RFC 6532). */
export function decodeHeaderValue(v: string): string {
  // eslint-disable-next-line no-control-regex
  const s = /[\x80-\xff]/.test(v) ? Buffer.from(v, 'latin1').toString('utf8') : v;
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
