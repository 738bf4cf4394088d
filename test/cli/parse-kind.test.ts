import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import t from 'tap';

// The CLI runs the same parse as the SMTP path; here: kind detection on the shared corpus.
const CLI = new URL('../../dist/cli/index.js', import.meta.url).pathname;
const CORPUS = new URL('../../../shared/corpus/bounces/', import.meta.url).pathname;
// Answer-key entries we are sure are wrong, with the reason (see docs/parsing.md).
const DISPUTED = Object.keys(JSON.parse(readFileSync(new URL('../parse/corpus-disputed.json', import.meta.url), 'utf8')).files);

function parse(files: string[]) {
  const r = spawnSync(process.execPath, [CLI, 'parse', ...files], { encoding: 'utf8', env: { PATH: process.env.PATH }, maxBuffer: 64 << 20 });
  return { status: r.status, lines: r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)), stderr: r.stderr };
}

t.test('kind per corpus family', async (t) => {
  const bsd = readdirSync(CORPUS + 'bsd').filter((f) => f.endsWith('.eml'));
  const pick = (re: RegExp) => bsd.filter((f) => re.test(f)).map((f) => CORPUS + 'bsd/' + f);
  const arf = pick(/^arf-/);
  const autoreply = pick(/^rfc3834-/);
  const r = parse([...arf, ...autoreply]);
  t.equal(r.status, 0);
  t.equal(r.lines.length, arf.length + autoreply.length, 'one line per file');
  t.ok(arf.length > 0 && autoreply.length > 0, 'corpus has both families');
  for (const line of r.lines) {
    const want = /\/arf-/.test(line.file) ? 'complaint' : 'autoreply';
    t.equal(line.kind, want, line.file);
  }
  const not = readdirSync(CORPUS + 'not').filter((f) => !DISPUTED.includes(f) && !DISPUTED.includes(`not/${f}`)).map((f) => CORPUS + 'not/' + f);
  t.ok(not.length >= 2);
  for (const line of parse(not).lines) t.not(line.kind, 'bounce', `${line.file} is not a bounce`);
});

t.test('folders are searched for *.eml; output is pure JSON lines', async (t) => {
  const r = parse([CORPUS + 'cr']);
  t.equal(r.status, 0);
  t.ok(r.lines.length >= 10);
  for (const l of r.lines) {
    t.match(l.file, /\.eml$/);
    t.ok(['complaint', 'bounce', 'abuse', 'unsubscribe', 'autoreply', 'delivery-notice', 'unknown'].includes(l.kind), l.file);
  }
  t.ok(r.lines.filter((l) => l.kind === 'bounce').length >= r.lines.length * 0.8, 'most of cr/ are bounces');
});

t.test('usage errors', async (t) => {
  const r = spawnSync(process.execPath, [CLI, 'parse'], { encoding: 'utf8' });
  t.equal(r.status, 2);
  t.match(r.stderr, /^abusegate: parse needs at least one PATH/);
  const u = spawnSync(process.execPath, [CLI, 'frobnicate'], { encoding: 'utf8' });
  t.equal(u.status, 2);
  t.match(u.stderr, /unknown command: frobnicate/);
});
