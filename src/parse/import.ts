/**
 * Bulk import of suppressions from another sender (the desk's CSV upload and
 * POST /v1/suppressions/import): each row keeps its reason and date, so an imported hard
 * bounce or complaint counts in preflight like one of ours (rules/preflight.ts buckets by
 * reason unless the source is `admin`). Pure: text in, rows and refusals out.
 */
import { type Channel, normaliseAddress } from '../address.js';

/** Reasons an import may carry: the buckets preflight counts (rules/preflight.ts). */
export const IMPORT_REASONS = ['hard-bounce', 'complaint', 'unsubscribe', 'manual', 'soft-bounce-limit'] as const;
export type ImportReason = (typeof IMPORT_REASONS)[number];
export const IMPORT_MAX_ROWS = 100_000;

export interface ImportRow {
  address: string;
  reason: ImportReason;
  /** ISO 8601, the original date. */
  at: string;
}

export interface ImportResult {
  rows: ImportRow[];
  invalid: Array<{ line: number; error: string }>;
}

/** RFC 4180 records: quoted fields may hold commas, quotes ("") and line breaks. One pass, linear. */
export function csvRecords(text: string): string[][] {
  const out: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else field += c;
    } else if (c === '"' && field === '') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      out.push(row);
      row = [];
      field = '';
    } else field += c;
  }
  if (field !== '' || row.length) {
    row.push(field);
    out.push(row);
  }
  return out;
}

/** Validates one row of the JSON import or the CSV; returns the row or why it is refused. */
export function importRow(raw: { address?: unknown; reason?: unknown; at?: unknown }, channel: Channel, now: number): ImportRow | string {
  const address = typeof raw.address === 'string' ? normaliseAddress(raw.address.trim().slice(0, 320), channel) : null;
  if (!address) return `not a valid ${channel === 'sms' ? 'E.164 number' : 'address'}`;
  const reason = typeof raw.reason === 'string' ? raw.reason.trim().toLowerCase() : '';
  if (!(IMPORT_REASONS as readonly string[]).includes(reason)) return `reason must be one of ${IMPORT_REASONS.join(', ')}`;
  const ms = typeof raw.at === 'string' ? Date.parse(raw.at.trim()) : NaN;
  // A date after now cannot be an original date; one day of slack for clocks and zones.
  if (!Number.isFinite(ms) || ms > now + 86_400_000) return 'at must be an ISO 8601 date, not in the future';
  return { address, reason: reason as ImportReason, at: new Date(ms).toISOString() };
}

export function parseImportCsv(text: string, channel: Channel, now = Date.now()): ImportResult {
  const records = csvRecords(text.replace(/^\uFEFF/, ''));
  const rows: ImportRow[] = [];
  const invalid: ImportResult['invalid'] = [];
  records.forEach((r, i) => {
    if (r.length === 1 && r[0].trim() === '') return;
    if (i === 0 && r[0].trim().toLowerCase() === 'address') return;
    if (rows.length >= IMPORT_MAX_ROWS) return void invalid.push({ line: i + 1, error: `more than ${IMPORT_MAX_ROWS} rows` });
    const row = importRow({ address: r[0], reason: r[1], at: r[2] }, channel, now);
    if (typeof row === 'string') invalid.push({ line: i + 1, error: row });
    else rows.push(row);
  });
  return { rows, invalid };
}
