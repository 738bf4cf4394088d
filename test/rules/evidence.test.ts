/** The evidence model's decisions, table by table (src/rules/evidence.ts; docs/security.md). */
import t from 'tap';
import type { RecipientReport } from '../../src/parse/report.js';
import { type BounceBinding, bounceTargets, complaintEvidence, countedEventParts, independence, investigationSuspension, type ReporterSighting } from '../../src/rules/evidence.js';
import { ipGroup } from '../../src/trust/ip.js';
import { capDkimSignatures } from '../../src/trust/reporters.js';

const rcpt = (address: string | null, action: string | null = 'failed'): RecipientReport => ({ address, redacted: false, reason: 'userunknown', hard: true, action, status: '5.1.1', replyCode: '550', diagnostic: null });
const bound = (account: string, to: string): BounceBinding => ({ account, legacy: false, boundTo: (a) => a.toLowerCase() === to });
const legacy = (account: string): BounceBinding => ({ account, legacy: true, boundTo: () => false });

t.test('bounceTargets: a bounce speaks only for its token\'s recipient', async (t) => {
  const many = [rcpt('me@x.example'), ...Array.from({ length: 150 }, (_, i) => rcpt(`s${i}@v.example`))];
  const cases: Array<[string, RecipientReport[], string | null, BounceBinding | null, string[], number]> = [
    ['bound: the own recipient among 150 strangers', many, 'acme', bound('acme', 'me@x.example'), ['me@x.example'], 150],
    ['bound: case changes by MTAs', [rcpt('ME@X.example')], 'acme', bound('acme', 'me@x.example'), ['ME@X.example'], 0],
    ['bound: only strangers', many.slice(1), 'acme', bound('acme', 'me@x.example'), [], 150],
    ['bound to another account than the one attributed', [rcpt('me@x.example')], 'acme', bound('other', 'me@x.example'), [], 1],
    ['no verifying token', [rcpt('me@x.example')], 'acme', null, [], 1],
    ['legacy token, one recipient', [rcpt('me@x.example')], 'acme', legacy('acme'), ['me@x.example'], 0],
    ['legacy token, 151 recipients: none believed', many, 'acme', legacy('acme'), [], 151],
    ['delayed recipients are not failures', [rcpt('me@x.example', 'delayed')], 'acme', bound('acme', 'me@x.example'), [], 0],
    ['a redacted address cannot be bound', [rcpt(null)], 'acme', bound('acme', 'me@x.example'), [], 1],
  ];
  for (const [name, recipients, account, binding, allowed, ignored] of cases) {
    const r = bounceTargets(recipients, account, binding);
    t.same([r.allowed.map((x) => x.address), r.ignored], [allowed, ignored], name);
  }
});

t.test('complaintEvidence: only trusted complaints count', async (t) => {
  t.same(complaintEvidence('abuse', true), { counter: 'c', suppress: 'complaint' });
  t.same(complaintEvidence('abuse', false), { counter: 'u', suppress: 'complaint' });
  t.same(complaintEvidence('fraud', false), { counter: 'u', suppress: 'complaint' });
  t.same(complaintEvidence('not-spam', true), { counter: null, suppress: null });
  t.same(complaintEvidence('opt-out', false), { counter: null, suppress: 'unsubscribe' });
  t.same(complaintEvidence('auth-failure', true), { counter: 'a', suppress: null });
  t.same(countedEventParts('complaint', 'acme', 'a@b.example', 'm1'), countedEventParts('complaint', 'acme', 'a@b.example', 'm2'), 'one per (account, recipient, kind) whatever the message');
  t.not(countedEventParts('complaint', 'acme', null, 'm1').join(), countedEventParts('complaint', 'acme', null, 'm2').join(), 'redacted: the message tells them apart');
});

t.test('investigationSuspension: words alone never suspend', async (t) => {
  const rules = { independentReporters: 3, trustedFeedbackTypes: ['fraud', 'virus'] };
  const me: ReporterSighting = { reportId: 'r1', ipGroup: '192.0.2.0/24', address: 'a@x.example' };
  const base = { reportId: 'r1', verified: true, trustedReporter: false, feedbackType: null, standing: [] as const, recent: [me] };
  const cases: Array<[string, Parameters<typeof investigationSuspension>[0], string | null]> = [
    ['one anonymous report with a verified token, clean account', base, null],
    ['phishing words are not own data', { ...base, standing: ['phishing-language'] }, null],
    ['a young account and one report', { ...base, standing: ['new-account'] }, null],
    ['a warned account, verified token', { ...base, standing: ['account-warned'] }, 'own-data-and-token'],
    ['a warned account, forged token', { ...base, verified: false, standing: ['account-warned'] }, null],
    ['complaint rate, verified token', { ...base, standing: ['complaint-rate'] }, 'own-data-and-token'],
    ['an earlier confirmed case, verified token', { ...base, standing: ['confirmed-cases'], confirmedCases: ['case_a'] }, 'own-data-and-token'],
    ['an earlier confirmed case, forged token', { ...base, verified: false, standing: ['confirmed-cases'], confirmedCases: ['case_a'] }, null],
    ['untrusted fraud', { ...base, feedbackType: 'fraud' }, null],
    ['trusted fraud, verified', { ...base, trustedReporter: true, feedbackType: 'fraud' }, 'trusted-fraud'],
    ['trusted fraud, not verified', { ...base, verified: false, trustedReporter: true, feedbackType: 'virus' }, null],
    ['trusted abuse', { ...base, trustedReporter: true, feedbackType: 'abuse' }, null],
    [
      'three networks, three addresses',
      { ...base, recent: [me, { reportId: 'r2', ipGroup: '198.51.100.0/24', address: 'b@y.example' }, { reportId: 'r3', ipGroup: '2001:db8:0:1::/64', address: 'c@z.example' }] },
      'independent-reporters',
    ],
    [
      'three networks, one address',
      { ...base, recent: [me, { reportId: 'r2', ipGroup: '198.51.100.0/24', address: 'a@x.example' }, { reportId: 'r3', ipGroup: '2001:db8:0:1::/64', address: 'a@x.example' }] },
      null,
    ],
    [
      'one network, three addresses',
      { ...base, recent: [me, { reportId: 'r2', ipGroup: '192.0.2.0/24', address: 'b@y.example' }, { reportId: 'r3', ipGroup: '192.0.2.0/24', address: 'c@z.example' }] },
      null,
    ],
    [
      'young, three networks, one address: own data plus token',
      { ...base, standing: ['new-account'], recent: [me, { reportId: 'r2', ipGroup: '198.51.100.0/24', address: 'a@x.example' }, { reportId: 'r3', ipGroup: '203.0.113.0/24', address: 'a@x.example' }] },
      'own-data-and-token',
    ],
  ];
  for (const [name, input, rule] of cases) t.equal(investigationSuspension(input, rules)?.rule ?? null, rule, name);
  t.same(investigationSuspension({ ...base, standing: ['confirmed-cases'], confirmedCases: ['case_a', 'case_b'] }, rules)?.evidence, ['r1', 'case_a', 'case_b'], 'the confirmed cases are evidence');
  t.same(investigationSuspension({ ...base, standing: ['account-warned'], confirmedCases: ['case_a'] }, rules)?.evidence, ['r1'], 'only when they are among the doubts');
  t.same(independence([me, { ...me, reportId: 'r9' }]), { groups: 1, addresses: 1, reportIds: ['r1'] });
  t.equal(investigationSuspension({ ...base, recent: [me, { reportId: 'r2', ipGroup: 'b', address: 'b' }, { reportId: 'r3', ipGroup: 'c', address: 'c' }] }, { ...rules, independentReporters: 0 }), null, '0 switches the rule off');
});

t.test('ipGroup: /24 and /64', async (t) => {
  t.equal(ipGroup('192.0.2.77'), '192.0.2.0/24');
  t.equal(ipGroup('::ffff:192.0.2.77'), '192.0.2.0/24');
  t.equal(ipGroup('2001:db8:1:2:3:4:5:6'), '2001:db8:1:2::/64');
  t.equal(ipGroup('2001:db8:1:2::9'), '2001:db8:1:2::/64');
  t.equal(ipGroup('2001:0db8:0001:0002:ffff::1'), '2001:db8:1:2::/64');
  t.equal(ipGroup('2001:db8::1'), '2001:db8:0:0::/64');
  t.equal(ipGroup('::1'), '0:0:0:0::/64');
  t.equal(ipGroup('fe80::1%eth0'), 'fe80:0:0:0::/64');
});

t.test('capDkimSignatures keeps the first N signatures, folded lines and all', async (t) => {
  const sig = (i: number) => `DKIM-Signature: v=1; d=d${i}.example;\r\n\tb=abc${i}`;
  const raw = Buffer.from([...Array.from({ length: 50 }, (_, i) => sig(i)), 'From: a@b.example', 'Subject: x', '', 'body', 'DKIM-Signature: in the body stays'].join('\r\n'));
  const out = capDkimSignatures(raw, 3).toString('latin1');
  t.equal(out.split('DKIM-Signature:').length - 1, 4, 'three in the header, the body untouched');
  t.match(out, /d2\.example;\r\n\tb=abc2\r\nFrom: a@b.example/);
  t.notMatch(out, /d3\.example/);
  t.equal(capDkimSignatures(raw, 100), raw, 'nothing to cut: the same buffer');
});
