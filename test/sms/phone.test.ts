import t from 'tap';
import { mobileCandidates, mobileE164, sameSender, senderIdIn } from '../../src/phone.js';
import { classifyInbound, loadKeywords } from '../../src/rules/smskeywords.js';
import { traceSms } from '../../src/rules/smstrace.js';

const MARKETS = ['US', 'GB', 'AU'];

t.test('numbers as people write them, tried in each region', async (t) => {
  const cases: Array<[string, string[]]> = [
    ['07700 900123', ['+447700900123']], // British, national: a mobile only in GB
    ['0400 000 000', ['+61400000000']], // Australian
    ['(415) 555-0123', ['+14155550123']],
    ['+44 7700 900123', ['+447700900123']],
    ['0044 7700 900123', ['+447700900123']],
    ['011 44 7700 900123', ['+447700900123']],
    ['7700900123', ['+17700900123', '+447700900123']], // a mobile in two regions: both kept
    ['02 9999 9999', []], // Sydney landline
    ['0800 123', []],
    ['hello', []],
    ['', []],
  ];
  for (const [text, want] of cases) t.same(mobileCandidates(text, MARKETS), want, text);
  t.equal(mobileE164('07700 900123', MARKETS), '+447700900123');
  t.equal(mobileE164('7700900123', MARKETS), null, 'ambiguous: no single number');
  t.same(mobileCandidates('0400 000 000', ['US']), [], 'only the configured regions are tried');
  t.same(mobileCandidates('07700 900123', ['xx', 'gb']), ['+447700900123'], 'unknown regions are skipped, case does not matter');
});

t.test('the sender a person names', async (t) => {
  const cases: Array<[string, string | null]> = [
    ['I keep getting marketing texts on my mobile 07700 900123 from "PROMO" … Reply STOP to opt out', 'PROMO'],
    ['Sender: ACME Deals\nthey text me daily', 'ACME Deals'],
    ['texts from PROMO every day', 'PROMO'],
    ['Absender: „Angebote“', 'Angebote'],
    ['from my phone', null],
    ['nothing here', null],
  ];
  for (const [text, want] of cases) t.equal(senderIdIn(text), want, text);
  t.equal(senderIdIn('from "' + 'x'.repeat(100_000)), null, 'long input, bounded patterns');
  t.ok(sameSender('Promo', 'PROMO'));
  t.ok(sameSender('+44 7700 900000', '07700 900000'));
  t.notOk(sameSender('PROMO', 'PROMO2'));
  t.notOk(sameSender('', ''));
});

t.test('inbound keywords: the whole text, any of the languages', async (t) => {
  const k = loadKeywords();
  for (const w of ['STOP', 'stop', ' Stop! ', 'STOPALL', 'Stop all', 'UNSUBSCRIBE', 'cancel', 'END', 'quit', 'STOPP', 'Abmelden', 'ARRÊT', 'arret', 'BAJA', 'basta', 'afmelden', 'SAIR']) t.equal(classifyInbound(w, k), 'stop', w);
  for (const w of ['START', 'unstop']) t.equal(classifyInbound(w, k), 'start', w);
  for (const w of ['HELP', 'hilfe', 'AIDE', 'ayuda']) t.equal(classifyInbound(w, k), 'help', w);
  for (const w of ['please stop', 'Stop texting me', 'ok thanks', '', 'STOP '.repeat(1000)]) t.equal(classifyInbound(w, k), 'other', w.slice(0, 20));
});

t.test('the trace rule', async (t) => {
  const at = Date.parse('2026-11-27T09:00:00Z');
  const one = traceSms([{ number: '+447700900123', sends: [{ account: 'a', campaign: 'c', sender: 'PROMO', at }] }], 'promo');
  t.equal(one.chosen?.account, 'a');
  t.equal(one.chosen?.senderMatched, true);
  const two = traceSms([{ number: '+1', sends: [{ account: 'a', campaign: 'c', sender: 'X', at }, { account: 'b', campaign: 'd', sender: 'Y', at: at - 1 }] }], null);
  t.equal(two.chosen, null);
  t.equal(two.candidates.length, 2);
  t.equal(traceSms([{ number: '+1', sends: [{ account: 'a', campaign: 'c', sender: 'X', at }, { account: 'b', campaign: 'd', sender: 'Y', at }] }], 'y').chosen?.account, 'b', 'the sender narrows');
  t.equal(traceSms([{ number: '+1', sends: [{ account: 'a', campaign: 'c', sender: 'X', at }] }], 'Z').chosen, null, 'a sender no send matches confirms no one');
  const newest = traceSms([{ number: '+1', sends: [{ account: 'a', campaign: 'new', sender: 'X', at }, { account: 'a', campaign: 'old', sender: 'X', at: at - 5000 }] }], null);
  t.match(newest.chosen, { campaign: 'new', sends: 2 });
  t.same(traceSms([], 'X'), { chosen: null, candidates: [] });
});
