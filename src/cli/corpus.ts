/**
 * `abusegate corpus DIR`: runs the parsers over a labelled corpus (the Sisimai sample set
 * layout: bsd/, crlf/, cr/, not/ and answer-key.jsonl) and scores them per recipient:
 * bounces through parseBounce, ARF feedback reports through parseMessage.
 */
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseMime } from '../parse/mime.js';
import { loadBounceRules, parseBounce, type BounceResult, type BounceRules } from '../parse/bounce/index.js';
import { parseMessage } from '../parse/index.js';
import type { Report } from '../parse/report.js';

interface KeyLine {
  file: string;
  index: number;
  recipient?: string;
  status?: string;
  status_is_pseudo?: boolean;
  replycode?: string;
  reason?: string;
  hardbounce?: number;
  feedbacktype?: string;
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
  field: 'recipient' | 'hard' | 'status' | 'reason' | 'not-bounce' | 'missing' | 'arf-recipient' | 'arf-type' | 'arf-missing';
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
  /** ARF feedback reports: the recipient and the feedback type of each reported message. */
  arfRecipient: Metric;
  arfType: Metric;
  misses: Miss[];
  /** Parse time over all files, milliseconds. */
  elapsedMs: number;
}

export interface ScoreOptions {
  rules?: BounceRules;
  /** Files left out of the score (disputed answers), by corpus-relative path. */
  exclude?: Iterable<string>;
}

/** Key entries for ARF feedback reports (scored through parseMessage). */
function isArf(k: KeyLine): boolean {
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
  const all = readAnswerKey(dir).filter((k) => !excluded.has(k.file));
  const group = (lines: KeyLine[]): Map<string, KeyLine[]> => {
    const m = new Map<string, KeyLine[]>();
    for (const k of lines) {
      const list = m.get(k.file) ?? [];
      list.push(k);
      m.set(k.file, list);
    }
    return m;
  };
  const byFile = group(all.filter((k) => !isArf(k)));
  const arfByFile = group(all.filter(isArf));
  const score: CorpusScore = {
    files: byFile.size + arfByFile.size,
    recipient: { ok: 0, total: 0 },
    hard: { ok: 0, total: 0 },
    status: { ok: 0, total: 0 },
    reason: { ok: 0, total: 0 },
    notBounce: { ok: 0, total: 0 },
    arfRecipient: { ok: 0, total: 0 },
    arfType: { ok: 0, total: 0 },
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
  const reports = new Map<string, Report>();
  for (const file of arfByFile.keys()) {
    const path = join(dir, file);
    if (existsSync(path)) reports.set(file, parseMessage(readFileSync(path), { bounceRules: rules }));
  }
  score.elapsedMs = performance.now() - t0;

  for (const [file, lines] of arfByFile) {
    const rep = reports.get(file);
    for (const k of lines) {
      score.arfRecipient.total++;
      score.arfType.total++;
      const got = rep?.kind === 'complaint' ? rep.recipients[k.index - 1] : undefined;
      if (!got) {
        score.misses.push({ file, index: k.index, field: 'arf-missing', expected: k.recipient ?? '', got: rep ? `${rep.kind}, ${rep.recipients.length} recipients` : 'null' });
        continue;
      }
      const expected = lowerDomain(k.recipient ?? '');
      // Sisimai writes a stand-in where the report redacted the recipient; we write null.
      const same = expected === lowerDomain(got.address ?? '') || (got.address === null && got.redacted && REDACTED_STAND_IN.test(expected));
      if (same) score.arfRecipient.ok++;
      else score.misses.push({ file, index: k.index, field: 'arf-recipient', expected, got: got.address ?? '(redacted)' });
      if ((k.feedbacktype ?? '') === (got.feedbackType ?? '')) score.arfType.ok++;
      else score.misses.push({ file, index: k.index, field: 'arf-type', expected: k.feedbacktype ?? '', got: got.feedbackType ?? '' });
    }
  }

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

/** Sisimai's placeholder for a recipient the feedback report does not name. */
const REDACTED_STAND_IN = /^undisclosed-recipient-in-headers@libsisimai\.org\.invalid$/i;

function pct(m: Metric): string {
  return m.total === 0 ? '   n/a' : `${((100 * m.ok) / m.total).toFixed(1).padStart(5)} %`;
}

export function formatCorpusTable(score: CorpusScore): string {
  const row = (name: string, m: Metric): string => `${name.padEnd(12)} ${pct(m)}  ${String(m.ok).padStart(4)} / ${m.total}`;
  return [
    `corpus: ${score.files} files, ${score.elapsedMs.toFixed(0)} ms`,
    row('recipient', score.recipient),
    row('hard/soft', score.hard),
    row('status', score.status),
    row('reason', score.reason),
    row('not/', score.notBounce),
    row('arf rcpt', score.arfRecipient),
    row('arf type', score.arfType),
  ].join('\n');
}
