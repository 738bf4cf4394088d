// The accuracy floors of the bounce parser on the development corpus (issue: recipient
// ≥ 99 %, hard/soft ≥ 98 %, status ≥ 97 %, reason ≥ 90 %, not/ files are not bounces).
// Files whose answer key we dispute are listed, with the reason, in corpus-disputed.json
// (a name without a folder covers the message's bsd/, crlf/ and cr/ copies).
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { scoreCorpus, formatCorpusTable, assignFolds, scoreFolds, formatFolds, messageOf, readAnswerKey, type Metric } from '../../src/cli/corpus.js';

const corpus = fileURLToPath(new URL('../../../shared/corpus/bounces/', import.meta.url));
const disputed = JSON.parse(readFileSync(new URL('./corpus-disputed.json', import.meta.url), 'utf8')) as {
  files: Record<string, string>;
};

const FLOORS: Record<'recipient' | 'hard' | 'status' | 'reason' | 'notBounce' | 'arfRecipient' | 'arfType', number> = {
  recipient: 0.99,
  hard: 0.98,
  status: 0.97,
  reason: 0.9,
  notBounce: 1,
  // ARF feedback reports (parseMessage): every one names its recipient and feedback type.
  arfRecipient: 1,
  arfType: 1,
};

t.test('bounce corpus floors', { skip: existsSync(corpus) ? false : `no corpus at ${corpus}` }, async (t) => {
  t.ok(Object.keys(disputed.files).length <= 12, 'the disputed list stays short');
  const score = scoreCorpus(corpus, { exclude: Object.keys(disputed.files) });
  t.comment(formatCorpusTable(score));
  const ratio = (m: Metric): number => (m.total === 0 ? 1 : m.ok / m.total);
  for (const [name, floor] of Object.entries(FLOORS) as Array<[keyof typeof FLOORS, number]>) {
    const m = score[name];
    t.ok(ratio(m) >= floor, `${name} ${(100 * ratio(m)).toFixed(1)} % ≥ ${(100 * floor).toFixed(0)} % (${m.ok}/${m.total})`);
  }
  t.ok(score.recipient.total > 400, 'the corpus was read');
  t.ok(score.arfRecipient.total >= 10, 'the feedback reports were read');
});

t.test('folds: by message within each module, stable, every fold scored', { skip: existsSync(corpus) ? false : `no corpus at ${corpus}` }, async (t) => {
  const folds = assignFolds(corpus, 5);
  t.same([...assignFolds(corpus, 5)], [...folds], 'the split is the same on every run');
  t.notSame([...assignFolds(corpus, 5, 7)], [...folds], 'another seed deals differently');
  const foldOfMessage = new Map<string, number>();
  for (const [file, n] of folds) {
    const seen = foldOfMessage.get(messageOf(file));
    if (seen !== undefined && seen !== n) t.fail(`${file}: its copies are in folds ${seen} and ${n}`);
    foldOfMessage.set(messageOf(file), n);
  }
  // A module with five messages or more is in every fold.
  const modules = new Map<string, Set<number>>();
  const sizes = new Map<string, Set<string>>();
  for (const k of readAnswerKey(corpus)) {
    const m = k.module ?? '';
    modules.set(m, (modules.get(m) ?? new Set()).add(folds.get(k.file)!));
    sizes.set(m, (sizes.get(m) ?? new Set()).add(messageOf(k.file)));
  }
  for (const [m, set] of modules) if (sizes.get(m)!.size >= 5) t.equal(set.size, 5, `${m} is in every fold`);

  const report = scoreFolds(corpus, 5, { exclude: Object.keys(disputed.files) });
  t.comment(formatFolds('abusegate', report));
  const whole = scoreCorpus(corpus, { exclude: Object.keys(disputed.files) });
  t.equal(report.folds.reduce((a, s) => a + s.reason.total, 0), whole.reason.total, 'the folds together are the corpus');
  for (const [i, s] of report.folds.entries()) {
    t.ok(s.reason.total > 50, `fold ${i + 1} has ${s.reason.total} recipients`);
    t.ok(s.hard.ok / s.hard.total >= 0.95, `fold ${i + 1}: hard/soft ${((100 * s.hard.ok) / s.hard.total).toFixed(1)} % ≥ 95 %`);
    t.ok(s.reason.ok / s.reason.total >= 0.85, `fold ${i + 1}: reason ${((100 * s.reason.ok) / s.reason.total).toFixed(1)} % ≥ 85 %`);
  }
  t.ok(report.fired.get('status:X.2.2')?.size, 'rule firing is recorded by rule name');
  t.ok(report.single.every((r) => /^(?:text|provider-code|stage):/.test(r)), 'the audit lists text rules only');
});
