import t from 'tap';
import { loadConfig } from '../../src/config/load.js';
import { judgePreflight, type PreflightFigures, suppressionBucket, suspensionGuidance } from '../../src/rules/preflight.js';

// The shipped defaults: the table checks the rules as a customer meets them.
const config = loadConfig({ env: {}, overrides: {} });
const rules = config.preflight;
const g = config.guidance;

const clean: PreflightFigures = {
  size: 10_000,
  unique: 10_000,
  duplicates: 0,
  invalid: 0,
  role: 0,
  suppressed: { complaint: 0, 'hard-bounce': 0, 'soft-bounce-limit': 0, unsubscribe: 0, manual: 0, other: 0 },
  global: 0,
  witnessed: null,
  account: { status: 'active', suspendReason: null, complaintRate: 0.0001, complaintWarn: 0.0008, vetting: null },
};
type Over = Omit<Partial<PreflightFigures>, 'suppressed' | 'account'> & { suppressed?: Partial<PreflightFigures['suppressed']>; account?: Partial<PreflightFigures['account']> };
const figures = (o: Over): PreflightFigures => ({ ...clean, ...o, suppressed: { ...clean.suppressed, ...o.suppressed }, account: { ...clean.account, ...o.account } });

const cases: Array<[string, Over, 'send' | 'review' | 'block', string[], [number, number]?, Partial<typeof rules>?]> = [
  ['a clean list', {}, 'send', [], [0, 39]],
  ['an empty list from a quiet account', { size: 0, unique: 0, account: { complaintRate: null } }, 'send', [], [0, 0]],
  ['suspended account', { account: { status: 'suspended', suspendReason: 'complaint-rate' } }, 'block', ['account-suspended'], [100, 100]],
  ['bought list: 8 % complained or hard-bounced before', { suppressed: { complaint: 300, 'hard-bounce': 500 } }, 'block', ['previously-suppressed'], [70, 100]],
  ['exactly at the block line does not block', { suppressed: { complaint: 250, 'hard-bounce': 250 } }, 'send', [], [39, 39]],
  ['unsubscribes and soft bounces do not count toward the block', { suppressed: { unsubscribe: 2000, 'soft-bounce-limit': 1000, manual: 500 } }, 'send', []],
  ['role-heavy list', { role: 1200 }, 'review', ['role-addresses'], [40, 69]],
  ['invalid addresses above 3 %', { size: 10_400, invalid: 400 }, 'review', ['invalid-addresses'], [40, 69]],
  ['one spam trap', { global: 1 }, 'review', ['global-list'], [40, 40]],
  ['spam traps, rule off', { global: 3 }, 'send', [], undefined, { reviewGlobalHits: 0 }],
  ['complaint rate above half the warn threshold', { account: { complaintRate: 0.00041 } }, 'review', ['complaint-rate'], [40, 69]],
  ['complaint rate at exactly half', { account: { complaintRate: 0.0004 } }, 'send', [], [39, 39]],
  ['complaint rate unknown (below minVolume)', { account: { complaintRate: null } }, 'send', []],
  ['complaint rate, rule off', { account: { complaintRate: 0.002 } }, 'send', [], undefined, { reviewComplaintRateShareOfWarn: 0 }],
  ['an account whose vetting says review waits for a reviewer', { account: { vetting: 'review' } }, 'review', ['account-vetting'], [40, 40]],
  ['an account whose vetting says reject waits too', { account: { vetting: 'reject' } }, 'review', ['account-vetting'], [40, 40]],
  ['an approved account is not held', { account: { vetting: 'approve' } }, 'send', []],
  ['vetting review, rule off', { account: { vetting: 'review' } }, 'send', [], undefined, { reviewUnvettedAccounts: false }],
  ['most of the list never confirmed, rule on', { witnessed: 4000 }, 'review', ['unwitnessed-consent'], [40, 69], { reviewUnwitnessedShare: 0.5 }],
  ['enough confirmed', { witnessed: 6000 }, 'send', [], undefined, { reviewUnwitnessedShare: 0.5 }],
  ['rule off for this account (null)', { witnessed: null }, 'send', [], undefined, { reviewUnwitnessedShare: 0.5 }],
  ['warned account with a clean list is not held', { account: { status: 'warned' } }, 'send', []],
  [
    'everything at once: block first, then the reviews',
    { size: 11_000, invalid: 1000, role: 900, global: 2, suppressed: { complaint: 1000 }, account: { complaintRate: 0.001, status: 'suspended', suspendReason: 'bounce-rate' } },
    'block',
    ['account-suspended', 'previously-suppressed', 'role-addresses', 'invalid-addresses', 'global-list', 'complaint-rate'],
    [100, 100],
  ],
];

for (const [name, over, decision, codes, range, ruleOver] of cases) {
  t.test(name, async (t) => {
    const v = judgePreflight(figures(over), { ...rules, ...ruleOver }, g);
    t.equal(v.decision, decision);
    t.same(v.reasons.map((r) => r.code), codes);
    if (range) t.ok(v.score >= range[0] && v.score <= range[1], `score ${v.score} in [${range[0]}, ${range[1]}]`);
    const band = decision === 'send' ? [0, 39] : decision === 'review' ? [40, 69] : [70, 100];
    t.ok(v.score >= band[0] && v.score <= band[1], `score ${v.score} in the ${decision} band`);
    for (const r of v.reasons) {
      t.match(r.guidance, /^https:\/\//, `${r.code} links to guidance`);
      t.ok(Object.values(g).includes(r.guidance), `${r.code} links to a configured page`);
      t.ok(r.message.length > 60 && /\.$/.test(r.message), `${r.code} is a sentence`);
      t.notMatch(r.message, /undefined|NaN|null/, `${r.code} reads well`);
    }
  });
}

t.test('sentences carry the figures and the reasons behind the defaults', async (t) => {
  const v = judgePreflight(figures({ suppressed: { complaint: 300, 'hard-bounce': 500 }, role: 1200, global: 1 }), rules, g);
  const msg = Object.fromEntries(v.reasons.map((r) => [r.code, r]));
  t.match(msg['previously-suppressed'].message, /^8 % of this list \(300 complaints and 500 hard bounces among 10,000 addresses\).*limit is 5 %.*bought, scraped or left to go stale/);
  t.equal(msg['previously-suppressed'].guidance, g.listHygiene);
  t.match(msg['role-addresses'].message, /12 % of this list are role addresses.*\(1,200 addresses\).*not opted in/);
  t.equal(msg['role-addresses'].guidance, g.consent);
  t.match(msg['global-list'].message, /1 address is on our global do-not-mail list.*spam traps/);
  t.same([msg['previously-suppressed'].value, msg['previously-suppressed'].threshold], [0.08, 0.05]);
  const s = judgePreflight(figures({ account: { status: 'suspended', suspendReason: 'bounce-rate' } }), rules, g);
  t.equal(s.reasons[0].guidance, g.bounces, 'a bounce suspension points at the bounce guidance');
  const c = judgePreflight(figures({ account: { complaintRate: 0.0006 } }), rules, g);
  t.match(c.reasons[0].message, /complaint rate is 0\.06 %, above 0\.04 % \(half the 0\.08 % at which we warn\)/);
  t.equal(c.reasons[0].guidance, g.complaints);
});

t.test('the score grows with how far past the line', async (t) => {
  const at = (role: number) => judgePreflight(figures({ role }), rules, g).score;
  t.ok(at(0) < at(300) && at(300) < at(500), 'below the line: 0 → 39');
  t.ok(at(501) < at(700) && at(700) < at(1000), 'past it: 40 → 69');
  t.equal(at(1000), 69);
  t.equal(at(5000), 69, 'a review never scores as a block');
});

t.test('suppression buckets', async (t) => {
  t.equal(suppressionBucket({ reason: 'complaint', source: 'fbl' }), 'complaint');
  t.equal(suppressionBucket({ reason: 'hard-bounce', source: 'bounce' }), 'hard-bounce');
  t.equal(suppressionBucket({ reason: 'soft-bounce-limit', source: 'bounce' }), 'soft-bounce-limit');
  t.equal(suppressionBucket({ reason: 'unsubscribe', source: 'one-click' }), 'unsubscribe');
  t.equal(suppressionBucket({ reason: 'asked by phone', source: 'admin' }), 'manual', 'admin entries are manual whatever their reason');
  t.equal(suppressionBucket({ reason: 'complaint', source: 'admin' }), 'manual');
  t.equal(suppressionBucket({ reason: 'spamtrap', source: 'import' }), 'other');
});

t.test('account guidance for warnings and suspensions', async (t) => {
  t.same(suspensionGuidance('complaint-rate', g), { guidance: g.complaints, seeAlso: [g.unsubscribe, g.consent] });
  t.same(suspensionGuidance('bounce-rate', g), { guidance: g.bounces, seeAlso: [g.listHygiene, g.consent] });
  t.equal(suspensionGuidance('investigation', g).guidance, g.consent);
});

t.test('the domain-cached normaliser agrees with normaliseEmail', async (t) => {
  const { DomainCachedNormaliser } = await import('../../src/preflight.js');
  const { normaliseEmail } = await import('../../src/address.js');
  const inputs = [
    'a@example.com', 'A@Example.COM', 'a@EXAMPLE.com.', ' a@example.com ', '<a@example.com>', 'a b@example.com', 'a@exa mple.com',
    'a@bücher.example', 'a@BÜCHER.example', 'a@xn--bcher-kva.example', 'a@xn--zz', 'a@0x7f.1', 'a@1.2.3.4', 'a@localhost', 'a@nodot',
    'x'.repeat(64) + '@example.com', 'x'.repeat(65) + '@example.com', '@example.com', 'a@', 'a@@example.com', 'a"@"b@example.com',
    'a@exa_mple.com', 'a@-example.com', 'a@example..com', 'a@.example.com', 'a@example.com\t', 'a@EXAMPLE.COM',
  ];
  const cached = new DomainCachedNormaliser();
  for (const round of [1, 2]) {
    for (const i of inputs) {
      const n = normaliseEmail(i);
      t.equal(cached.normalise(i), n, `${JSON.stringify(i)} (round ${round})`);
      if (n) t.equal(cached.domain, n.slice(n.lastIndexOf('@') + 1), 'and its domain');
    }
  }
});
