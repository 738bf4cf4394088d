// config/abuse-words.yaml (issue 15, part 8): the word lists and forward labels are data,
// each list citing its source; the loader refuses a list without one.
import { readFileSync } from 'node:fs';
import t from 'tap';
import YAML from 'yaml';
import { abuseWords, compileAbuseWords } from '../../src/parse/abuse/words.js';

const raw = (): Record<string, any> => YAML.parse(readFileSync(new URL('../../config/abuse-words.yaml', import.meta.url), 'utf8'));

t.test('the data file compiles: separators, labels, subject prefixes, phishing terms, complaint and SMS words', async (t) => {
  const w = abuseWords();
  t.ok(w.separator.test('---------- forwarded message ---------'));
  t.ok(w.separator.test('-----ursprungliche nachricht-----'));
  t.ok(w.separator.test('mensaje reenviado:'));
  t.notOk(w.separator.test('i forwarded message boards to you'), 'the phrase must be the whole line');
  t.equal(w.labels.get('betreff'), 'subject');
  t.equal(w.labels.get('von'), 'from');
  t.ok(w.forwardSubject.test('[EXT] WG: offers'));
  t.notOk(w.forwardSubject.test('Fwding: offers'));
  t.ok(w.phishing.terms.length >= 10);
  t.equal(w.phishing.weakNeeded, 3);
  t.ok(w.complaintWords.test('i never signed up'));
  t.ok(w.smsWords.test('a text message from'));
  t.equal(abuseWords(), w, 'loaded once');
});

t.test('every list names its source, and a list without one is refused', async (t) => {
  const doc = raw();
  const lists: Array<[string, (d: Record<string, any>) => Record<string, unknown>]> = [
    ['forward.separators', (d) => d.forward.separators],
    ['forward.labels', (d) => d.forward.labels],
    ['forward.subject_prefixes', (d) => d.forward.subject_prefixes],
    ['phishing', (d) => d.phishing],
    ['complaint_words', (d) => d.complaint_words],
    ['sms_words', (d) => d.sms_words],
  ];
  for (const [name, at] of lists) {
    t.ok(String(at(doc).source).length > 40, `${name} names a source`);
    const without = raw();
    delete at(without).source;
    t.throws(() => compileAbuseWords(without), new RegExp(`${name.replace('.', '\\.')} names no source`), `${name} without a source is refused`);
  }
  const empty = raw();
  empty.phishing.terms[0].match = [];
  t.throws(() => compileAbuseWords(empty), /phishing\.terms\[0\]\.match must be a list/);
  const lax = raw();
  lax.phishing.weak_needed = 1;
  t.throws(() => compileAbuseWords(lax), /weak_needed must be a whole number of at least 2/, 'one weak word is not enough to call a report phishing');
});
