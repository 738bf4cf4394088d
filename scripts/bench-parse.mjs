#!/usr/bin/env node
// Parse throughput: our parser (parseMessage from dist/parse/index.js, in process, the code
// the SMTP path runs) against Debian's Sisimai (libsisimai-perl, Sisimai->make on a scalar
// reference: in memory, like ours) over every message of ../shared/corpus/bounces (bsd/,
// crlf/, cr/, not/), in the same run. Both read the files into memory first, make one
// warm-up pass, then parse the whole set again and again for --seconds. Messages/s and
// the ratio ours / Sisimai; goal ≥ 3.
//
//   node scripts/bench-parse.mjs [--corpus DIR] [--seconds 3] [--json]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';

const root = new URL('..', import.meta.url).pathname;
const o = { corpus: resolve(root, '../shared/corpus/bounces'), seconds: 3, json: false };
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  if (a === '--json') o.json = true;
  else if (a === '--corpus') o.corpus = resolve(process.argv[++i]);
  else if (a === '--seconds') o.seconds = Number(process.argv[++i]);
  else throw new Error(`unknown argument ${a}`);
}

function walk(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith('.eml') ? [join(dir, e.name)] : []));
}
const files = walk(o.corpus).sort();
if (files.length === 0) throw new Error(`no .eml files under ${o.corpus}`);
const bytes = files.reduce((n, f) => n + readFileSync(f).length, 0);

// ---- ours ----
const { parseMessage } = await import(new URL('../dist/parse/index.js', import.meta.url));
const { loadBounceRules } = await import(new URL('../dist/parse/bounce/index.js', import.meta.url));
const bounceRules = loadBounceRules();
const raws = files.map((f) => readFileSync(f));
let recipients = 0;
for (const r of raws) recipients += parseMessage(r, { bounceRules, mailbox: 'bounces' }).recipients.length;
let n = 0;
const t0 = performance.now();
const until = t0 + o.seconds * 1000;
while (performance.now() < until) for (const r of raws) (parseMessage(r, { bounceRules, mailbox: 'bounces' }), n++);
const oursSeconds = (performance.now() - t0) / 1000;
const ours = { messages: n, seconds: Number(oursSeconds.toFixed(3)), perSecond: Math.round(n / oursSeconds), recipients };

// ---- Sisimai ----
const PERL = String.raw`
use strict; use warnings; use Sisimai; use Time::HiRes qw(time);
my ($seconds, @files) = @ARGV;
my @texts = map { local $/; open(my $fh, '<:raw', $_) or die "$_: $!"; my $t = <$fh>; close $fh; $t } @files;
my $recipients = 0;
for my $t (@texts) { my $v = Sisimai->make(\$t, delivered => 1); $recipients += scalar @$v if $v }
my ($n, $t0) = (0, time);
while (time - $t0 < $seconds) { for my $t (@texts) { Sisimai->make(\$t, delivered => 1); $n++ } }
printf "{\"messages\":%d,\"seconds\":%.3f,\"recipients\":%d,\"version\":\"%s\"}\n", $n, time - $t0, $recipients, Sisimai->version;
`;
let sisimai = null;
const dir = mkdtempSync(join(tmpdir(), 'ag-bench-parse-'));
try {
  writeFileSync(join(dir, 'sisimai.pl'), PERL);
  const r = spawnSync('perl', [join(dir, 'sisimai.pl'), String(o.seconds), ...files], { encoding: 'utf8', timeout: 600_000, maxBuffer: 1 << 20 });
  if (r.status === 0) {
    const s = JSON.parse(r.stdout.trim().split('\n').pop());
    sisimai = { ...s, perSecond: Math.round(s.messages / s.seconds) };
  } else sisimai = { error: (r.stderr || String(r.error)).trim().split('\n')[0] };
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const ratio = sisimai?.perSecond ? Number((ours.perSecond / sisimai.perSecond).toFixed(2)) : null;
const result = {
  bench: 'parse',
  corpus: o.corpus,
  files: files.length,
  bytes,
  ours,
  sisimai,
  ratio,
  rows: [
    {
      section: 'Parse',
      figure: `corpus (${files.length} messages, ${(bytes / 1024).toFixed(0)} KB): parseMessage msg/s vs Sisimai ${sisimai?.version ?? ''} (Perl, same files, same run)`,
      value: ours.perSecond,
      unit: 'msg/s',
      baseline: sisimai?.perSecond ?? null,
      baselineLabel: sisimai?.error ? `Sisimai: ${sisimai.error}` : `Sisimai ${sisimai.version}`,
      ratio,
      goal: 'ratio ≥ 3',
      met: ratio === null ? null : ratio >= 3,
    },
  ],
};
if (o.json) console.log(JSON.stringify(result));
else {
  console.log(`parse: ${files.length} corpus messages (${(bytes / 1024).toFixed(0)} KB), ${o.seconds} s each`);
  console.log(`  parseMessage  ${ours.perSecond.toLocaleString('en')} msg/s (${ours.recipients} recipients in one pass)`);
  console.log(`  Sisimai       ${sisimai?.perSecond?.toLocaleString('en') ?? sisimai?.error} msg/s (${sisimai?.recipients ?? '-'} recipients)`);
  console.log(`  ratio ${ratio} (goal ≥ 3: ${ratio !== null && ratio >= 3 ? 'met' : 'NOT met'})`);
}
