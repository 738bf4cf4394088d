/**
 * RFC 3464 delivery-status fields: one per-message block, then one block per recipient.
 * Real MTAs bend the format (missing blank lines, folded Diagnostic-Code, fields in the
 * human-readable part, Original-Recipient only), so a block is also started by a repeated
 * recipient field, not only by a blank line.
 */
import { dsnAddress as addressOf } from '../../address.js';
import { tick } from '../deadline.js';

export interface DsnRecipient {
  finalRecipient: string | null;
  originalRecipient: string | null;
  /** X-Actual-Recipient and friends: used when no Final-Recipient is given. */
  otherRecipient: string | null;
  action: string | null;
  status: string | null;
  /** Text after the code in the Status field ("4.0.0 (host name lookup failure)"). */
  statusComment: string | null;
  diagnosticType: string | null;
  diagnostic: string | null;
  remoteMta: string | null;
}

export interface DsnFields {
  reportingMta: string | null;
  recipients: DsnRecipient[];
}

/** Per-recipient field names (RFC 3464 §2.3) and common vendor additions. */
const RECIPIENT_FIELDS = new Set([
  'original-recipient',
  'final-recipient',
  'x-actual-recipient',
  'action',
  'status',
  'remote-mta',
  'diagnostic-code',
  'last-attempt-date',
  'will-retry-until',
  'final-log-id',
]);

/** An RFC 3464 field name: a letter, then letters, digits and hyphens. */
const FIELD_NAME = /^[A-Za-z][A-Za-z0-9-]*$/;

/**
 * "Name: value" (RFC 3464 §2.1, RFC 5322 §2.2) split at the first colon, by a scan: the
 * name may be followed by blanks before the colon. Linear in the line's length.
 */
function fieldLine(line: string): { name: string; value: string } | null {
  const colon = line.indexOf(':');
  let end = colon;
  while (end > 0 && (line[end - 1] === ' ' || line[end - 1] === '\t')) end--;
  const name = line.slice(0, end);
  if (end < 1 || !FIELD_NAME.test(name)) return null;
  return { name, value: line.slice(colon + 1) };
}

function emptyRecipient(): DsnRecipient {
  return {
    finalRecipient: null,
    originalRecipient: null,
    otherRecipient: null,
    action: null,
    status: null,
    statusComment: null,
    diagnosticType: null,
    diagnostic: null,
    remoteMta: null,
  };
}

function hasAny(r: DsnRecipient): boolean {
  return Boolean(r.finalRecipient || r.originalRecipient || r.otherRecipient || r.action || r.status || r.diagnostic);
}

/** Splits "type; value" (RFC 3464 §2.1.2); values without a type keep type null. */
function typed(v: string): { type: string | null; value: string } {
  const m = /^([A-Za-z0-9-]{1,20})\s*;\s*([\s\S]*)$/.exec(v);
  return m ? { type: m[1].toLowerCase(), value: m[2].trim() } : { type: null, value: v.trim() };
}

/**
 * Parses delivery-status text (LF line ends). Returns null when it holds no recipient
 * fields at all. `looseStart` lets the scan skip prose before the first field (fields
 * quoted in a human-readable part).
 */
export function parseDsnFields(text: string): DsnFields | null {
  const lines = text.split('\n');
  // Unfold (RFC 5322 §2.2.3) into [name, value, blankBefore].
  const fields: Array<{ name: string; value: string; blankBefore: boolean }> = [];
  let blank = false;
  for (const line of lines) {
    tick();
    if (line.trim() === '') {
      blank = true;
      continue;
    }
    if ((line[0] === ' ' || line[0] === '\t') && fields.length > 0 && !blank) {
      const last = fields[fields.length - 1];
      last.value += ' ' + line.trim();
      continue;
    }
    const m = fieldLine(line);
    if (m) {
      fields.push({ name: m.name.toLowerCase(), value: m.value.trim(), blankBefore: blank });
    } else if (fields.length > 0 && !blank && fields[fields.length - 1].name === 'diagnostic-code') {
      // Unindented continuation of a long Diagnostic-Code: seen from several MTAs.
      fields[fields.length - 1].value += ' ' + line.trim();
    }
    blank = false;
  }

  const out: DsnFields = { reportingMta: null, recipients: [] };
  let cur = emptyRecipient();
  const flush = (): void => {
    if (hasAny(cur)) out.recipients.push(cur);
    cur = emptyRecipient();
  };
  for (const f of fields) {
    if (f.name === 'reporting-mta') {
      out.reportingMta ??= typed(f.value).value;
      continue;
    }
    if (!RECIPIENT_FIELDS.has(f.name)) continue;
    if (f.blankBefore && hasAny(cur)) flush();
    switch (f.name) {
      case 'original-recipient':
        // Original-Recipient normally precedes Final-Recipient (RFC 3464 §2.3); some MTAs swap
        // them or put Action first, so only a second Original-Recipient starts a new block.
        if (cur.originalRecipient) flush();
        cur.originalRecipient = addressOf(f.value);
        break;
      case 'final-recipient':
        if (cur.finalRecipient) flush();
        cur.finalRecipient = addressOf(f.value);
        break;
      case 'x-actual-recipient':
        cur.otherRecipient ??= addressOf(f.value);
        break;
      case 'action':
        if (cur.action) flush();
        cur.action = f.value.toLowerCase().split(/[\s(;]/)[0] || null;
        break;
      case 'status': {
        if (cur.status) flush();
        const m = /([245])\.(\d{1,3})\.(\d{1,3})/.exec(f.value);
        cur.status = m ? m[0] : null;
        const comment = m ? trimComment(f.value.slice(m.index + m[0].length)) : '';
        cur.statusComment = comment && !/^(?:permanent|persistent|temporary|transient)/i.test(comment) ? comment : null;
        break;
      }
      case 'diagnostic-code': {
        if (cur.diagnostic) flush();
        const t = typed(f.value);
        cur.diagnosticType = t.type;
        cur.diagnostic = t.value || null;
        break;
      }
      case 'remote-mta':
        cur.remoteMta = typed(f.value).value || null;
        break;
      default:
        break;
    }
  }
  flush();
  if (out.recipients.length === 0) return null;
  return out;
}

/** "(mailbox full)" → "mailbox full": brackets and space trimmed by a scan (a `[\s)]+$` regex is quadratic). */
function trimComment(s: string): string {
  let a = 0;
  let b = s.length;
  const strip = (c: string): boolean => c === '(' || c === ')' || c.trim() === '';
  while (a < b && (s[a] === '(' || s[a].trim() === '')) a++;
  while (b > a && strip(s[b - 1]) && s[b - 1] !== '(') b--;
  return s.slice(a, b);
}

/** The address a DSN recipient block names, best field first. */
export function dsnAddress(r: DsnRecipient): string | null {
  return r.finalRecipient ?? r.originalRecipient ?? r.otherRecipient;
}
