/**
 * `abusegate corpus DIR`: runs the parsers over a labelled corpus (the Sisimai sample set
 * layout: bsd/, crlf/, cr/, not/ and answer-key.jsonl) and scores them per recipient:
 * bounces through parseBounce, ARF feedback reports through parseMessage.
 *
 * `--folds N` measures generalization: the messages of each module (MTA or provider) are
 * dealt into N folds by a seeded shuffle (the LF, CRLF and CR copies of one message stay
 * together), each fold is scored on its own, and the rules are audited: a rule that fires
 * on one message only, or on one fold's messages only, was likely fitted to a sample.
 * `--sisimai` scores Debian's Sisimai (libsisimai-perl) on the same files, fold by fold.
 */
import { readFileSync, existsSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseMime } from '../parse/mime.js';
import { loadBounceRules, parseBounce, type BounceResult, type BounceRules, type Classification } from '../parse/bounce/index.js';
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
  /**
   * Files left out of the score (disputed answers): a corpus-relative path, or a message
   * name (no folder) for all its copies.
   */
  exclude?: Iterable<string>;
  /** Score only these files (corpus-relative paths); all when absent. */
  only?: Set<string>;
  /** Filled with rule name → the messages (see messageOf) whose recipients it decided. */
  fired?: Map<string, Set<string>>;
  /**
   * Someone else's results to score instead of ours (Sisimai's): file → recipients in
   * order. A file missing from the map counts as no result.
   */
  results?: Map<string, ForeignRecipient[]>;
}

/** A recipient as another parser reports it. */
export interface ForeignRecipient {
  address: string;
  reason: string;
  hard: boolean;
  status: string;
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
  const all = readAnswerKey(dir).filter((k) => !excluded.has(k.file) && !excluded.has(messageOf(k.file)) && (!options.only || options.only.has(k.file)));
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
  const fired = options.fired;
  let current = '';
  const trace = fired
    ? (c: Classification): void => {
        for (const name of c.rule.split('+')) {
          const set = fired.get(name) ?? new Set<string>();
          set.add(current);
          fired.set(name, set);
        }
      }
    : null;
  const before = rules.trace;
  rules.trace = trace;
  try {
    for (const file of byFile.keys()) {
      const path = join(dir, file);
      if (!existsSync(path) || options.results) continue;
      current = messageOf(file);
      results.set(file, parseFile(path, rules));
    }
  } finally {
    rules.trace = before;
  }
  if (options.results) {
    for (const file of byFile.keys()) {
      const list = options.results.get(file);
      results.set(file, list ? { kind: 'bounce', original: undefined, recipients: list.map((r) => ({ address: r.address, redacted: false, reason: r.reason, hard: r.hard, action: null, status: r.status || null, replyCode: null, diagnostic: null })) } : null);
    }
  }
  const reports = new Map<string, Report>();
  for (const file of options.results ? [] : arfByFile.keys()) {
    const path = join(dir, file);
    if (existsSync(path)) reports.set(file, parseMessage(readFileSync(path), { bounceRules: rules }));
  }
  score.elapsedMs = performance.now() - t0;

  for (const [file, lines] of options.results ? [] : arfByFile) {
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

/** The message a corpus file holds: its LF, CRLF and CR copies are one message. */
export function messageOf(file: string): string {
  return file.replace(/^(?:bsd|crlf|cr|not)\//, '');
}

/** The module (MTA or provider) a key line belongs to; from the file name when the key has none. */
function moduleOf(k: KeyLine): string {
  if (k.module) return k.module;
  return messageOf(k.file).replace(/-\d{1,4}\.eml$/, '');
}

/** FNV-1a: a small stable hash, so a fold split is the same on every machine and run. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/**
 * Deals the messages of each module into `folds` folds: the module's messages in a seeded
 * shuffle (by hash of seed and name), then round robin, so every module with enough
 * messages is in every fold. Returns file → fold for every key file.
 */
export function assignFolds(dir: string, folds: number, seed = 15): Map<string, number> {
  const keys = readAnswerKey(dir);
  const byModule = new Map<string, Set<string>>();
  for (const k of keys) {
    const m = moduleOf(k);
    const set = byModule.get(m) ?? new Set<string>();
    set.add(messageOf(k.file));
    byModule.set(m, set);
  }
  const foldOfMessage = new Map<string, number>();
  // Modules start at different folds, so that single-message modules spread evenly too.
  let offset = 0;
  for (const m of [...byModule.keys()].sort()) {
    const messages = [...byModule.get(m)!].sort((a, b) => fnv1a(`${seed}:${a}`) - fnv1a(`${seed}:${b}`) || (a < b ? -1 : 1));
    messages.forEach((msg, i) => foldOfMessage.set(msg, (offset + i) % folds));
    offset = (offset + messages.length) % folds;
  }
  const out = new Map<string, number>();
  for (const k of keys) out.set(k.file, foldOfMessage.get(messageOf(k.file))!);
  return out;
}

export interface FoldReport {
  folds: CorpusScore[];
  /** Rule name → messages it decided a recipient of. */
  fired: Map<string, Set<string>>;
  /** Rules that fired on one message only (in the whole corpus). */
  single: string[];
  /** Rules that fired on several messages, all in one fold. */
  oneFold: Array<{ rule: string; fold: number; messages: number }>;
  /** Rule names in the rules file that never fired. */
  neverFired: string[];
  /** Reason confusions over all folds: "expected → got" → count. */
  confusions: Map<string, number>;
}

/** Every rule name classify() can report for these rules. */
function ruleNames(rules: BounceRules): string[] {
  return [
    ...rules.providerCodes.map((p) => `provider-code:${p.name}`),
    ...[...rules.providerPatterns, ...rules.patterns, ...rules.weakPatterns].map((r) => `text:${r.name}`),
    ...rules.stages.map((s) => `stage:${s.name}`),
  ];
}

export function scoreFolds(dir: string, folds: number, options: ScoreOptions & { seed?: number } = {}): FoldReport {
  const rules = options.rules ?? loadBounceRules();
  const foldOf = assignFolds(dir, folds, options.seed);
  const fired = new Map<string, Set<string>>();
  const scores: CorpusScore[] = [];
  for (let f = 0; f < folds; f++) {
    const only = new Set([...foldOf].filter(([, n]) => n === f).map(([file]) => file));
    scores.push(scoreCorpus(dir, { ...options, rules, only, fired: options.results ? undefined : fired }));
  }
  const foldOfMessage = new Map<string, number>();
  for (const [file, n] of foldOf) foldOfMessage.set(messageOf(file), n);
  const single: string[] = [];
  const oneFold: FoldReport['oneFold'] = [];
  for (const [rule, messages] of [...fired].sort(([a], [b]) => (a < b ? -1 : 1))) {
    // Code tables come from RFCs and registries, not from samples: only text rules are audited.
    if (!/^(?:text|provider-code|stage):/.test(rule)) continue;
    if (messages.size === 1) {
      single.push(`${rule} (${[...messages][0]})`);
      continue;
    }
    const seen = new Set([...messages].map((m) => foldOfMessage.get(m)));
    if (seen.size === 1) oneFold.push({ rule, fold: [...seen][0]!, messages: messages.size });
  }
  const neverFired = options.results ? [] : ruleNames(rules).filter((n) => !fired.has(n));
  const confusions = new Map<string, number>();
  for (const s of scores) {
    for (const m of s.misses) {
      if (m.field !== 'reason') continue;
      const key = `${m.expected} → ${m.got}`;
      confusions.set(key, (confusions.get(key) ?? 0) + 1);
    }
  }
  return { folds: scores, fired, single, oneFold, neverFired, confusions };
}

function ratio(m: Metric): number {
  return m.total === 0 ? NaN : (100 * m.ok) / m.total;
}

const FOLD_FIELDS = [
  ['recipient', 'recipient'],
  ['hard/soft', 'hard'],
  ['status', 'status'],
  ['reason', 'reason'],
] as const;

/** Per-fold figures, then min / mean / max of each, for one parser. */
export function formatFolds(label: string, report: FoldReport): string {
  const lines = [`${label}: ${report.folds.length} folds (${report.folds.map((s) => s.reason.total).join(' / ')} recipients)`];
  lines.push(`${'fold'.padEnd(10)}${FOLD_FIELDS.map(([n]) => n.padStart(11)).join('')}`);
  report.folds.forEach((s, i) => {
    lines.push(`${String(i + 1).padEnd(10)}${FOLD_FIELDS.map(([, k]) => `${ratio(s[k]).toFixed(1)} %`.padStart(11)).join('')}`);
  });
  const stat = (k: (typeof FOLD_FIELDS)[number][1], f: (xs: number[]) => number): string => {
    const xs = report.folds.map((s) => ratio(s[k])).filter((x) => !Number.isNaN(x));
    return `${f(xs).toFixed(1)} %`.padStart(11);
  };
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  lines.push(`${'min'.padEnd(10)}${FOLD_FIELDS.map(([, k]) => stat(k, (xs) => Math.min(...xs))).join('')}`);
  lines.push(`${'mean'.padEnd(10)}${FOLD_FIELDS.map(([, k]) => stat(k, mean)).join('')}`);
  lines.push(`${'max'.padEnd(10)}${FOLD_FIELDS.map(([, k]) => stat(k, (xs) => Math.max(...xs))).join('')}`);
  return lines.join('\n');
}

/** The rule audit and the reason confusions of a fold run. */
export function formatAudit(report: FoldReport): string {
  const lines: string[] = [];
  lines.push(`text rules that fired on one message only (${report.single.length}; review: fitted to a sample?):`);
  for (const r of report.single) lines.push(`  ${r}`);
  lines.push(`text rules that fired on several messages of one fold only (${report.oneFold.length}):`);
  for (const r of report.oneFold) lines.push(`  ${r.rule} (fold ${r.fold + 1}, ${r.messages} messages)`);
  lines.push(`rules that never fired on this corpus (${report.neverFired.length}; provider tables and documented texts need not)`);
  lines.push('reason confusions (expected → got), all folds:');
  for (const [k, n] of [...report.confusions].sort((a, b) => b[1] - a[1])) lines.push(`  ${String(n).padStart(3)}  ${k}`);
  return lines.join('\n');
}

/** Sisimai (Perl) over the given files: file → recipients, or an error line. */
const SISIMAI = String.raw`
use strict; use warnings; use Sisimai; use JSON::PP;
my $json = JSON::PP->new->canonical;
for my $file (@ARGV) {
  open(my $fh, '<:raw', $file) or die "$file: $!"; my $text = do { local $/; <$fh> }; close $fh;
  my $v = Sisimai->make(\$text, delivered => 1);
  my @r = map { { address => $_->recipient->address, reason => ($_->reason // ''), hard => (defined $_->softbounce && $_->softbounce == 0 ? JSON::PP::true : JSON::PP::false), status => ($_->deliverystatus // '') } } @{ $v // [] };
  print $json->encode({ file => $file, recipients => \@r }), "\n";
}
printf STDERR "%s\n", Sisimai->version;
`;

export function runSisimai(dir: string): { results: Map<string, ForeignRecipient[]>; version: string } | { error: string } {
  const files = [...new Set(readAnswerKey(dir).map((k) => k.file))].filter((f) => existsSync(join(dir, f)));
  const tmp = mkdtempSync(join(tmpdir(), 'abusegate-sisimai-'));
  try {
    writeFileSync(join(tmp, 'sisimai.pl'), SISIMAI);
    const r = spawnSync('perl', [join(tmp, 'sisimai.pl'), ...files], { cwd: dir, encoding: 'utf8', timeout: 600_000, maxBuffer: 64 << 20 });
    if (r.status !== 0) return { error: (r.stderr || String(r.error)).trim().split('\n')[0] ?? 'perl failed' };
    const results = new Map<string, ForeignRecipient[]>();
    for (const line of r.stdout.split('\n')) {
      if (!line.trim()) continue;
      const o = JSON.parse(line) as { file: string; recipients: ForeignRecipient[] };
      results.set(o.file, o.recipients);
    }
    return { results, version: r.stderr.trim().split('\n').pop() ?? '' };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

export interface CorpusCommand {
  dir: string;
  disputed?: string;
  folds?: number;
  seed?: number;
  sisimai?: boolean;
}

/** `abusegate corpus`: the whole-corpus table, then (with --folds) the fold figures and the rule audit. */
export function runCorpus(cmd: CorpusCommand, out: { write(s: string): unknown }): void {
  out.write('All answer-key entries:\n' + formatCorpusTable(scoreCorpus(cmd.dir)) + '\n');
  const disputed = cmd.disputed ? Object.keys((JSON.parse(readFileSync(cmd.disputed, 'utf8')) as { files: Record<string, string> }).files) : [];
  if (cmd.disputed) {
    out.write(`\nWithout the ${disputed.length} disputed entries (${cmd.disputed}):\n` + formatCorpusTable(scoreCorpus(cmd.dir, { exclude: disputed })) + '\n');
  }
  const sisimai = cmd.sisimai ? runSisimai(cmd.dir) : null;
  if (sisimai && 'results' in sisimai) {
    out.write(`\nSisimai ${sisimai.version} on the same files${cmd.disputed ? ', without the disputed entries' : ''}:\n` + formatCorpusTable(scoreCorpus(cmd.dir, { exclude: disputed, results: sisimai.results })).split('\n').slice(1, 5).join('\n') + '\n');
  } else if (sisimai) out.write(`\nSisimai: ${sisimai.error}\n`);
  if (!cmd.folds) return;
  const report = scoreFolds(cmd.dir, cmd.folds, { exclude: disputed, seed: cmd.seed });
  out.write(`\n${formatFolds('abusegate', report)}\n`);
  if (sisimai && 'results' in sisimai) {
    out.write(`\n${formatFolds(`Sisimai ${sisimai.version}`, scoreFolds(cmd.dir, cmd.folds, { exclude: disputed, seed: cmd.seed, results: sisimai.results }))}\n`);
  }
  out.write(`\n${formatAudit(report)}\n`);
}
