/**
 * Inbound SMS keywords (STOP and its translations, START/UNSTOP, HELP), read from
 * config/sms-keywords.yaml: pure, no I/O after loading.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

export type SmsKeyword = 'stop' | 'start' | 'help' | 'other';

const FILE = new URL('../../config/sms-keywords.yaml', import.meta.url);

/** Upper case, no accents, inner spaces collapsed, surrounding spaces and punctuation gone. */
export function foldKeyword(text: string): string {
  return text
    .slice(0, 200)
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .toUpperCase()
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim();
}

export type KeywordTable = ReadonlyMap<string, Exclude<SmsKeyword, 'other'>>;

export function loadKeywords(file: URL = FILE): KeywordTable {
  const raw = parse(readFileSync(file, 'utf8')) as Record<string, Record<string, string[]>>;
  const table = new Map<string, Exclude<SmsKeyword, 'other'>>();
  for (const kind of ['stop', 'start', 'help'] as const) {
    for (const words of Object.values(raw[kind] ?? {})) for (const w of words) table.set(foldKeyword(String(w)), kind);
  }
  return table;
}

/** What an inbound text asks for: the whole text must be a keyword. */
export function classifyInbound(text: string, table: KeywordTable): SmsKeyword {
  return table.get(foldKeyword(text)) ?? 'other';
}
