/**
 * `abusegate corpus DIR`: runs the bounce parser over a labelled corpus (the Sisimai sample
 * set layout: bsd/, crlf/, cr/, not/ and answer-key.jsonl) and scores it per recipient.
 */
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseMime } from '../parse/mime.js';
import { loadBounceRules, parseBounce, type BounceResult, type BounceRules } from '../parse/bounce/index.js';

interface KeyLine {
  file: string;
  index: number;
  recipient?: string;
  status?: string;
  status_is_pseudo?: boolean;
  replycode?: string;
  reason?: string;
  hardbounce?: number;
  module?: string;
  expect_no_result?: boolean;
}

export interface Metric {
  ok: number;
  total: number;
}

export interface Miss {
  file: string;
  index: number;
  field: 'recipient' | 'hard' | 'status' | 'reason' | 'not-bounce' | 'missing';
  expected: string;
  got: string;
}

export interface CorpusScore {
  files: number;
  recipient: Metric;
  hard: Metric;
  status: Metric;
  reason: Metric;
  notBounce: Metric;
  misses: Miss[];
  /** Parse time over all files, milliseconds. */
  elapsedMs: number;
}

export interface ScoreOptions {
  rules?: BounceRules;
  /** Files left out of the score (disputed answers), by corpus-relative path. */
  exclude?: Iterable<string>;
}

/** Key entries that belong to other parsers (ARF feedback reports). */
function isForeign(k: KeyLine): boolean {
  return k.module === 'arf' || k.reason === 'feedback';
}

function lowerDomain(a: string): string {
  const at = a.lastIndexOf('@');
  return at < 0 ? a : a.slice(0, at + 1) + a.slice(at + 1).toLowerCase();
}

export function readAnswerKey(dir: string): KeyLine[] {
  return readFileSync(join(dir, 'answer-key.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as KeyLine);
}

export function parseFile(path: string, rules: BounceRules): BounceResult | null {
  return parseBounce(parseMime(readFileSync(path)), rules);
}

export function scoreCorpus(dir: string, options: ScoreOptions = {}): CorpusScore {
  const rules = options.rules ?? loadBounceRules();
  const excluded = new Set(options.exclude ?? []);
  const key = readAnswerKey(dir).filter((k) => !isForeign(k) && !excluded.has(k.file));
  const byFile = new Map<string, KeyLine[]>();
  for (const k of key) {
    const list = byFile.get(k.file) ?? [];
    list.push(k);
    byFile.set(k.file, list);
  }
  const score: CorpusScore = {
    files: byFile.size,
    recipient: { ok: 0, total: 0 },
    hard: { ok: 0, total: 0 },
    status: { ok: 0, total: 0 },
    reason: { ok: 0, total: 0 },
    notBounce: { ok: 0, total: 0 },
    misses: [],
    elapsedMs: 0,
  };
  const t0 = performance.now();
  const results = new Map<string, BounceResult | null>();
  for (const file of byFile.keys()) {
    const path = join(dir, file);
    if (!existsSync(path)) continue;
    results.set(file, parseFile(path, rules));
  }
  score.elapsedMs = performance.now() - t0;

  for (const [file, lines] of byFile) {
    const result = results.get(file) ?? null;
    for (const k of lines) {
      if (k.expect_no_result) {
        score.notBounce.total++;
        const isBounce = result !== null && result.kind !== 'autoreply';
        if (!isBounce) score.notBounce.ok++;
        else score.misses.push({ file, index: 0, field: 'not-bounce', expected: 'no bounce', got: result.kind });
        continue;
      }
      const got = result?.recipients[k.index - 1];
      score.recipient.total++;
      score.hard.total++;
      score.reason.total++;
      const scoreStatus = !k.status_is_pseudo;
      if (scoreStatus) score.status.total++;
      if (!got) {
        score.misses.push({ file, index: k.index, field: 'missing', expected: k.recipient ?? '', got: result ? `${result.recipients.length} recipients` : 'null' });
        continue;
      }
      const check = (field: Miss['field'], expected: string, actual: string, m: Metric): void => {
        if (expected === actual) m.ok++;
        else score.misses.push({ file, index: k.index, field, expected, got: actual });
      };
      check('recipient', lowerDomain(k.recipient ?? ''), got.address ? lowerDomain(got.address) : '', score.recipient);
      check('hard', String(k.hardbounce === 1), String(got.hard), score.hard);
      if (scoreStatus) check('status', k.status ?? '', got.status ?? '', score.status);
      check('reason', k.reason ?? '', got.reason ?? '', score.reason);
    }
  }
  return score;
}

function pct(m: Metric): string {
  return m.total === 0 ? '   n/a' : `${((100 * m.ok) / m.total).toFixed(1).padStart(5)} %`;
}

export function formatCorpusTable(score: CorpusScore): string {
  const row = (name: string, m: Metric): string => `${name.padEnd(12)} ${pct(m)}  ${String(m.ok).padStart(4)} / ${m.total}`;
  return [
    `bounce corpus: ${score.files} files, ${score.elapsedMs.toFixed(0)} ms`,
    row('recipient', score.recipient),
    row('hard/soft', score.hard),
    row('status', score.status),
    row('reason', score.reason),
    row('not/', score.notBounce),
  ].join('\n');
}
