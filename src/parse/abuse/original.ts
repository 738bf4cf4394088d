/**
 * Where the offending message of a report is: attached (message/rfc822, a headers-only
 * part, an .eml sent under another type), forwarded inline, pasted, or not there.
 */
import { firstAddress } from '../arf.js';
import { decodeTransfer, ENCLOSED_TYPES, type HeaderList, type MimePart, parseMime } from '../mime.js';
import { partFilename } from './attachments.js';
import { domainOf } from './domains.js';
import { inlineOriginal } from './forward.js';
import { readableText } from './text.js';

export type OriginalFound = 'attached' | 'inline' | 'headers-only' | 'none';

/** Nested forwards followed (a colleague's forward of the spam). */
const MAX_NESTING = 3;

export interface LocatedOriginal {
  headers: HeaderList | null;
  /** Readable text of the original (its body), for phishing language. */
  text: string;
  /** The original as a part when it is attached with its body: its text and HTML are read for links. */
  part: MimePart | null;
  found: OriginalFound;
  /** The reporter's own words: the text outside the original. */
  words: string;
}

/**
 * The offending message: an attached message (message/rfc822, a headers-only part, or an
 * .eml attachment), else one forwarded inline or pasted in the reporter's text.
 */
export function locateOriginal(root: MimePart, ownText: string, reporterDomain: string | null, depth = 0): LocatedOriginal {
  const attached = attachedMessage(root);
  if (attached) {
    const inner = attached.part;
    const headersOnly = attached.headersOnly || (inner.children.length === 0 && inner.rawBody.trim() === '');
    const text = headersOnly ? '' : readableText(inner, false);
    // A colleague's forward of the spam, attached: look inside it.
    if (depth < MAX_NESTING && reporterDomain && domainOf(firstAddress(inner.headers.get('from'))) === reporterDomain) {
      const deeper = locateOriginal(inner, text, reporterDomain, depth + 1);
      if (deeper.found !== 'none') return { ...deeper, words: ownText + '\n' + deeper.words };
    }
    return { headers: inner.headers, text, part: headersOnly ? null : inner, found: headersOnly ? 'headers-only' : 'attached', words: ownText };
  }
  const inline = inlineOriginal(ownText, reporterDomain);
  if (inline) return { headers: inline.headers, text: inline.body, part: null, found: inline.found, words: inline.before };
  return { headers: null, text: '', part: null, found: 'none', words: ownText };
}

function attachedMessage(root: MimePart): { part: MimePart; headersOnly: boolean } | null {
  const queue: MimePart[] = [root];
  let eml: MimePart | null = null;
  while (queue.length > 0) {
    const p = queue.shift()!;
    if (p !== root && ENCLOSED_TYPES.has(p.type) && p.children[0]) return { part: p.children[0], headersOnly: p.type.startsWith('text/') };
    if (p !== root && p.children.length === 0 && !eml && isEmlAttachment(p)) eml = p;
    if (p === root || !ENCLOSED_TYPES.has(p.type)) queue.push(...p.children);
  }
  if (!eml) return null;
  // An .eml sent as application/octet-stream (or text/plain) by clients that do not label it.
  try {
    const inner = parseMime(decodeTransfer(eml.rawBody, eml.headers.get('content-transfer-encoding')));
    return inner.headers.has('from') || inner.headers.has('received') ? { part: inner, headersOnly: false } : null;
  } catch {
    return null;
  }
}

function isEmlAttachment(p: MimePart): boolean {
  return /\.eml$/i.test(partFilename(p) ?? '');
}
