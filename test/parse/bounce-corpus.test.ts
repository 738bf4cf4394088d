// The accuracy floors of the bounce parser on the development corpus (issue: recipient
// ≥ 99 %, hard/soft ≥ 98 %, status ≥ 97 %, reason ≥ 90 %, not/ files are not bounces).
// Files whose answer key we dispute are listed, with the reason, in corpus-disputed.json.
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { scoreCorpus, formatCorpusTable, type Metric } from '../../src/cli/corpus.js';

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
