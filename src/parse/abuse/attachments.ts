/**
 * Files attached to a report, listed as evidence: name, declared type, decoded size and
 * SHA-256. Never opened, never run: the content is hashed as octets and nothing else.
 */
import { createHash } from 'node:crypto';
import libmime from 'libmime';
import { type Binary, bytesToText, decodeTransfer, ENCLOSED_TYPES, type MimePart } from '../mime.js';
import type { AttachmentEvidence } from '../report.js';

/** Attachments listed per report, at most. */
const MAX_ATTACHMENTS = 50;
/** A filename longer than this is cut (file systems stop at 255). */
const MAX_NAME = 255;

/** Parameters of a structured header value (RFC 2045 §5.1), RFC 2231 continuations and charsets applied. */
function headerParams(v: Binary | undefined): { value: string; params: Record<string, string> } {
  if (!v) return { value: '', params: {} };
  const parsed = libmime.parseHeaderValue(bytesToText(v));
  const params: Record<string, string> = {};
  for (const [k, x] of Object.entries(parsed.params ?? {})) params[k.toLowerCase()] = String(x);
  return { value: String(parsed.value ?? '').trim().toLowerCase(), params };
}

/**
 * The filename a part is given: Content-Disposition `filename` (RFC 2183 §2.3), else the
 * Content-Type `name` that older clients write; RFC 2231 and RFC 2047 encodings decoded
 * (Outlook and Gmail put encoded words in quotes), control characters dropped. Null when none.
 */
export function partFilename(p: MimePart): string | null {
  const given = headerParams(p.headers.get('content-disposition')).params.filename ?? headerParams(p.headers.get('content-type')).params.name;
  if (!given) return null;
  const decoded = given.includes('=?') ? encodedWords(given) : given;
  // eslint-disable-next-line no-control-regex
  const name = decoded.replace(/[\u0000-\u001f\u007f]/g, '').trim();
  return name === '' ? null : name.slice(0, MAX_NAME);
}

function encodedWords(s: string): string {
  try {
    return libmime.decodeWords(s);
  } catch {
    return s;
  }
}

/** Types that are files of their own even when sent inline and unnamed: a forwarded message (.eml), an Outlook item (.msg), a picture. */
function isFileType(type: string): boolean {
  return type === 'message/rfc822' || type === 'message/global' || type === 'application/vnd.ms-outlook' || type.startsWith('image/');
}

/**
 * Whether a leaf (or an enclosed message) is an attachment: Content-Disposition
 * `attachment` (RFC 2183 §2.2), or a non-text part that is named or is a file by its type.
 * A text part shown inline is the reporter's words, not a file.
 */
function isAttachment(p: MimePart): boolean {
  if (headerParams(p.headers.get('content-disposition')).value === 'attachment') return true;
  if (p.type.startsWith('text/') || p.type.startsWith('multipart/')) return false;
  return isFileType(p.type) || partFilename(p) !== null;
}

/**
 * The octets of an attachment as a file would hold them. Base64 is exact. A text or
 * message part sent as 7bit, 8bit or quoted-printable has its line ends in canonical form,
 * CRLF (RFC 2045 §6.7, RFC 5322 §2.1), as a saved .eml has them; the walker had made them LF.
 */
function fileOctets(p: MimePart): Buffer {
  const cte = p.headers.get('content-transfer-encoding');
  const buf = decodeTransfer(p.rawBody, cte);
  const textual = p.type.startsWith('text/') || p.type.startsWith('message/');
  if (!textual || (cte ?? '').trim().toLowerCase() === 'base64' || buf.indexOf(10) < 0) return buf;
  return Buffer.from(buf.toString('latin1').replace(/\r?\n/g, '\r\n'), 'latin1');
}

/**
 * The files attached to a message, in order, at most MAX_ATTACHMENTS. The attachments of
 * a forwarded message are not listed: the .eml that holds them is, with its hash.
 */
export function attachments(root: MimePart): AttachmentEvidence[] {
  const out: AttachmentEvidence[] = [];
  const visit = (p: MimePart): void => {
    if (out.length >= MAX_ATTACHMENTS) return;
    if (p !== root && isAttachment(p)) {
      const octets = fileOctets(p);
      out.push({ name: partFilename(p), type: p.type, size: octets.length, sha256: createHash('sha256').update(octets).digest('hex') });
      return;
    }
    if (ENCLOSED_TYPES.has(p.type)) return;
    for (const c of p.children) visit(c);
  };
  visit(root);
  return out;
}
