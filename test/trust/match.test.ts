import t from 'tap';
import { type AuthFacts, aligned, decide, matchesTrusted, normalizeIp, parseTrusted } from '../../src/trust/match.js';

t.test('domains: a trusted domain covers itself and its subdomains, on whole labels', async (t) => {
  const cfg = { trusted: ['fbl.yahoo.com', 'Feedback.Example.', 'bücher.example'] };
  const cases: Array<[string, string | null]> = [
    ['fbl.yahoo.com', 'fbl.yahoo.com'],
    ['a.fbl.yahoo.com', 'fbl.yahoo.com'],
    ['x.y.fbl.yahoo.com', 'fbl.yahoo.com'],
    ['FBL.Yahoo.COM.', 'fbl.yahoo.com'],
    ['yahoo.com', null],
    ['evilyahoo.com', null],
    ['evilfbl.yahoo.com', null],
    ['fbl.yahoo.com.evil.example', null],
    ['yahoo.com.evil.example', null],
    ['feedback.example', 'feedback.example'],
    ['xn--bcher-kva.example', 'xn--bcher-kva.example'],
    ['mail.bücher.example', 'xn--bcher-kva.example'],
    ['', null],
    ['..', null],
  ];
  for (const [domain, want] of cases) t.equal(matchesTrusted(cfg, domain), want, domain || '(empty)');
});

t.test('ranges: CIDR and single addresses, IPv4 and IPv6', async (t) => {
  const cfg = { trusted: ['192.0.2.0/24', '198.51.100.7', '2001:db8:fb1::/48', '2001:db8::25', '203.0.113.77/26'] };
  const cases: Array<[string, string | null]> = [
    ['192.0.2.0', '192.0.2.0/24'],
    ['192.0.2.255', '192.0.2.0/24'],
    ['192.0.3.0', null],
    ['192.0.1.255', null],
    ['::ffff:192.0.2.9', '192.0.2.0/24'],
    ['198.51.100.7', '198.51.100.7'],
    ['198.51.100.8', null],
    ['2001:db8:fb1::1', '2001:db8:fb1::/48'],
    ['2001:DB8:FB1:abcd::1', '2001:db8:fb1::/48'],
    ['2001:db8:fb1:ffff:ffff:ffff:ffff:ffff', '2001:db8:fb1::/48'],
    ['2001:db8:fb2::', null],
    ['2001:db8:0:0:0:0:0:25', '2001:db8::25'],
    ['2001:db8::26', null],
    ['[2001:db8:fb1::1]', '2001:db8:fb1::/48'],
    // host bits in a configured range are ignored: /26 of .77 is .64–.127
    ['203.0.113.64', '203.0.113.77/26'],
    ['203.0.113.128', null],
  ];
  for (const [ip, want] of cases) t.equal(matchesTrusted(cfg, ip), want, ip);
  t.equal(normalizeIp('::FFFF:192.0.2.1'), '192.0.2.1');
});

t.test('the list is checked: what is not a domain or a range is an error', async (t) => {
  const p = parseTrusted(['ok.example', '192.0.2.0/24', 'com', '192.0.2.0/33', '::/129', 'x/8', 'a b.example', '*.example.com', '-bad.example', '']);
  t.same(p.domains, ['ok.example']);
  t.equal(p.ranges.length, 1);
  t.equal(p.errors.length, 7, p.errors.join('\n'));
});

t.test('relaxed alignment: the same organisational domain (Public Suffix List)', async (t) => {
  const cases: Array<[string, string, boolean]> = [
    ['fbl.yahoo.com', 'yahoo.com', true],
    ['a.fbl.yahoo.com', 'b.yahoo.com', true],
    ['yahoo.com', 'evilyahoo.com', false],
    ['isp.co.uk', 'other.co.uk', false],
    ['a.isp.co.uk', 'isp.co.uk', true],
    ['Yahoo.COM', 'yahoo.com.', true],
  ];
  for (const [a, b, want] of cases) t.equal(aligned(a, b), want, `${a} ~ ${b}`);
  t.equal(aligned(null, 'yahoo.com'), false);
});

t.test('decide', async (t) => {
  const cfg = { trusted: ['fbl.isp.example', '198.51.100.0/24'] };
  const none: AuthFacts = {
    clientIp: '203.0.113.9',
    fromDomain: 'fbl.isp.example',
    dkim: [],
    spf: { result: 'none', domain: null },
    dmarc: { result: 'none', viaSpf: false, viaWholeDkim: false },
    temperror: false,
  };
  const sig = (domain: string, pass = true, partial = false) => ({ domain, pass, partial });
  const cases: Array<[string, Partial<AuthFacts>, string]> = [
    ['nothing proven', {}, 'no-trusted-signature'],
    ['client in a trusted range', { clientIp: '198.51.100.1', fromDomain: null }, 'ip:198.51.100.0/24'],
    ['trusted range wins over a DNS failure', { clientIp: '198.51.100.1', temperror: true }, 'ip:198.51.100.0/24'],
    ['aligned trusted DKIM', { dkim: [sig('fbl.isp.example')] }, 'dkim:fbl.isp.example'],
    ['trusted DKIM that failed', { dkim: [sig('fbl.isp.example', false)] }, 'no-trusted-signature'],
    ['trusted DKIM over part of the body', { dkim: [sig('fbl.isp.example', true, true)] }, 'no-trusted-signature'],
    ['the second of two signatures is the trusted one', { dkim: [sig('relay.example'), sig('fbl.isp.example')] }, 'dkim:fbl.isp.example'],
    ['trusted DKIM, From another organisation', { fromDomain: 'victim.example', dkim: [sig('fbl.isp.example')] }, 'no-trusted-signature'],
    ['trusted DKIM, no single From', { fromDomain: null, dkim: [sig('fbl.isp.example')] }, 'no-trusted-signature'],
    ['organisational DKIM alone', { dkim: [sig('isp.example')] }, 'no-trusted-signature'],
    ['DMARC pass through whole-body DKIM', { dkim: [sig('isp.example')], dmarc: { result: 'pass', viaSpf: false, viaWholeDkim: true } }, 'dmarc:fbl.isp.example'],
    ['DMARC pass through partial DKIM only', { dmarc: { result: 'pass', viaSpf: false, viaWholeDkim: false } }, 'no-trusted-signature'],
    ['DMARC pass through SPF', { dmarc: { result: 'pass', viaSpf: true, viaWholeDkim: false } }, 'dmarc:fbl.isp.example'],
    ['DMARC pass, untrusted From', { fromDomain: 'spammer.example', dmarc: { result: 'pass', viaSpf: true, viaWholeDkim: true } }, 'no-trusted-signature'],
    ['SPF pass for a trusted aligned domain', { spf: { result: 'pass', domain: 'bounce.fbl.isp.example' } }, 'spf:bounce.fbl.isp.example'],
    ['SPF pass, trusted, not aligned', { fromDomain: 'victim.example', spf: { result: 'pass', domain: 'fbl.isp.example' } }, 'no-trusted-signature'],
    ['SPF softfail', { spf: { result: 'softfail', domain: 'fbl.isp.example' } }, 'no-trusted-signature'],
    ['a DNS failure and nothing proven', { temperror: true }, 'temperror'],
    ['an error and nothing proven', { error: true, temperror: true }, 'error'],
  ];
  for (const [name, over, basis] of cases) {
    const got = decide(cfg, { ...none, ...over });
    t.same(got, { verdict: /^(ip|dkim|dmarc|spf):/.test(basis) ? 'trusted' : 'unverified', basis }, name);
  }
  t.same(decide({ trusted: [] }, { ...none, clientIp: '198.51.100.1', dkim: [sig('fbl.isp.example')] }).verdict, 'unverified', 'an empty list trusts nothing');
});
