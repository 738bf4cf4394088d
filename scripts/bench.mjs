#!/usr/bin/env node
// `npm run bench`: runs every benchmark of scripts/bench-*.mjs with --json, one after the
// other (each bounded in count and time, 127.0.0.1 only), prints ONE table and writes it
// with every bench's full JSON to var/bench/bench-<timestamp>.json, for comparing runs.
// Figures depend on the machine; the ratios (gateway / bare smtp-server, ours / Sisimai,
// policy server / raw Redis, …) are what carry over.
//
// A bench's JSON may carry `rows: [{section, figure, value, unit, baseline, ratio, goal,
// met}]`; for one that does not, a row is made from its `perSecond`/`baseline`/`ratio`.
//
//   node scripts/bench.mjs [--only smtp,parse] [--quick]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const argv = process.argv.slice(2);
const only = argv.includes('--only') ? argv[argv.indexOf('--only') + 1].split(',') : null;
const quick = argv.includes('--quick');

const BENCHES = [
  { name: 'smtp', args: quick ? ['--seconds', '1', '--conc', '1,10'] : [], timeoutMin: 20 },
  { name: 'rss', args: [], timeoutMin: 5 },
  { name: 'parse', args: quick ? ['--seconds', '1'] : [], timeoutMin: 10 },
  { name: 'lookup', args: quick ? ['--seconds', '2'] : [], timeoutMin: 5 },
  { name: 'policy', args: [], timeoutMin: 5 },
  { name: 'webhooks', args: [], timeoutMin: 5 },
  { name: 'preflight', args: [], timeoutMin: 5 },
];

{
  // Dependencies, a fresh dist/ and the load generators and peers (wrk, Postfix, Sisimai).
  const r = spawnSync(process.execPath, [join(root, 'scripts/ensure.mjs'), 'bench'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

/** Rows from a bench that does not give its own. */
function rowsOf(name, j) {
  if (Array.isArray(j.rows)) return j.rows;
  if (name === 'webhooks' && j.worker?.eventsPerSecond !== undefined) {
    return [{ section: 'Webhooks', figure: `outbox → signed POST, ${j.events} events × ${j.rounds ?? 1} rounds (medians), ${j.concurrency} in flight: events/s vs a bare poster (CPU/event ${j.worker.cpuMicrosPerEvent} µs vs ${j.bare?.cpuMicrosPerEvent} µs)`, value: j.worker.eventsPerSecond, unit: 'events/s', baseline: j.bare?.eventsPerSecond ?? null, ratio: j.ratio ?? null, goal: j.goal ?? '', met: j.met ?? null }];
  }
  if (name === 'preflight' && j.preflightMs?.median !== undefined) {
    return [{ section: 'Preflight', figure: `preflight of ${j.addresses.toLocaleString('en')} addresses, median ms vs raw pipelined HMGET`, value: j.preflightMs.median, unit: 'ms', baseline: j.rawPipelinedHmgetMs?.median ?? null, ratio: j.ratio ?? null, goal: '< 2,000 ms', met: j.underTwoSeconds ?? null }];
  }
  const main = Object.entries(j).find(([k, v]) => k !== 'baseline' && v && typeof v === 'object' && typeof v.perSecond === 'number');
  if (!main) return [{ section: name, figure: '(no figures recognised; see the JSON file)', value: null }];
  const [key, v] = main;
  const goal = j.target !== undefined ? `≥ ${j.target.toLocaleString('en')}/s` : j.goal ?? '';
  return [
    {
      section: name,
      figure: `${key} per second${v.p50ms !== undefined ? `, p50 ${v.p50ms} / p99 ${v.p99ms} ms` : ''}`,
      value: v.perSecond,
      unit: '/s',
      baseline: j.baseline?.perSecond ?? null,
      ratio: j.ratio ?? null,
      goal,
      met: j.meetsTarget ?? j.met ?? null,
    },
  ];
}

const startedAt = new Date();
const machine = { cpus: cpus().length, model: cpus()[0]?.model, loadavgAtStart: loadavg().map((x) => Number(x.toFixed(2))), node: process.version };
const results = {};
const rows = [];
for (const b of BENCHES) {
  if (only && !only.includes(b.name)) continue;
  const script = join(root, 'scripts', `bench-${b.name}.mjs`);
  if (!existsSync(script)) {
    rows.push({ section: b.name, figure: `scripts/bench-${b.name}.mjs not present`, value: null });
    continue;
  }
  process.stderr.write(`bench: ${b.name} …\n`);
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [script, '--json', ...b.args], { cwd: root, encoding: 'utf8', timeout: b.timeoutMin * 60_000, maxBuffer: 64 << 20 });
  const line = (r.stdout ?? '').trim().split('\n').filter((l) => l.startsWith('{')).pop();
  if (r.status !== 0 || !line) {
    const why = r.error ? String(r.error) : (r.stderr || r.stdout || '').trim().split('\n').slice(-1)[0];
    results[b.name] = { error: why, exit: r.status };
    rows.push({ section: b.name, figure: `failed: ${why}`.slice(0, 160), value: null });
    continue;
  }
  const j = JSON.parse(line);
  j.wallSeconds = Math.round((Date.now() - t0) / 1000);
  results[b.name] = j;
  rows.push(...rowsOf(b.name, j));
}

// ---- the table ----
const fmt = (v) => (v === null || v === undefined ? '' : typeof v === 'number' ? v.toLocaleString('en') : String(v));
const cols = [
  ['section', (r) => r.section],
  ['figure', (r) => r.figure],
  ['value', (r) => (r.value === null || r.value === undefined ? '' : `${fmt(r.value)}${r.unit ? ' ' + r.unit : ''}`)],
  ['baseline', (r) => `${fmt(r.baseline)}${r.baselineLabel ? ` (${r.baselineLabel})` : ''}`],
  ['ratio', (r) => fmt(r.ratio)],
  ['goal', (r) => r.goal ?? ''],
  ['met?', (r) => (r.met === true ? 'yes' : r.met === false ? 'NO' : '')],
];
const cells = rows.map((r) => cols.map(([, f]) => String(f(r) ?? '')));
const widths = cols.map(([h], i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
const line = (c) => '| ' + c.map((x, i) => x.padEnd(widths[i])).join(' | ') + ' |';
console.log(`abusegate bench, ${startedAt.toISOString()}, ${machine.cpus} × ${machine.model}, load average at start ${machine.loadavgAtStart.join(' ')}`);
console.log(line(cols.map(([h]) => h)));
console.log('|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|');
for (const c of cells) console.log(line(c));

const outDir = join(root, 'var/bench');
mkdirSync(outDir, { recursive: true });
const file = join(outDir, `bench-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
writeFileSync(file, JSON.stringify({ startedAt: startedAt.toISOString(), machine, rows, results }, null, 2) + '\n');
console.log(`\nwritten ${file}`);
