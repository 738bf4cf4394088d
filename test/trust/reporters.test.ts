import t from 'tap';
import { registry } from '../../src/metrics.js';
import { type AuthInput, createReporterAuth } from '../../src/trust/reporters.js';
import { dkimTxt, ed25519Key, report, rsaKey, sign, stubResolver } from './fixtures/dns.js';

// Documentation ranges and .example names only: nothing here could be a real reporter.
const TRUSTED = { trusted: ['fbl.isp.example', '198.51.100.0/24', '2001:db8:fb1::/48'] };
const OUTSIDE_IP = '203.0.113.9';

const ispKey = rsaKey('fbl.isp.example');
const ispOrgKey = rsaKey('isp.example', 'org');
const spammerKey = rsaKey('spammer.example');
const edKey = ed25519Key('fbl.isp.example');

const dns = () =>
  stubResolver({
    ...dkimTxt(ispKey),
    ...dkimTxt(ispOrgKey),
    ...dkimTxt(spammerKey),
    ...dkimTxt(edKey),
    'fbl.isp.example': 'v=spf1 ip4:198.51.100.0/24 ip6:2001:db8:fb1::/48 -all',
    'spammer.example': 'v=spf1 ip4:203.0.113.0/24 -all',
  });

const env = (raw: Buffer, over: Partial<AuthInput> = {}): AuthInput => ({ raw, clientIp: OUTSIDE_IP, helo: 'mx.somewhere.example', mailFrom: '', ...over });

t.test('a DKIM signature of a trusted domain, aligned with From: trusted', async (t) => {
  const auth = createReporterAuth(TRUSTED, { resolver: dns() });
  const r = await auth(env(await sign(report('Feedback <feedback@fbl.isp.example>'), ispKey)));
  t.same(r, { verdict: 'trusted', basis: 'dkim:fbl.isp.example', dkimPass: ['fbl.isp.example'], spf: 'none', dmarc: 'none', fromDomain: 'fbl.isp.example' });
});

t.test('From a subdomain of the signing domain is aligned (relaxed)', async (t) => {
  const auth = createReporterAuth(TRUSTED, { resolver: dns() });
  const r = await auth(env(await sign(report('feedback@arf.fbl.isp.example'), ispKey)));
  t.equal(r.verdict, 'trusted');
  t.equal(r.basis, 'dkim:fbl.isp.example');
});

t.test('ed25519 signatures count as well (RFC 8463)', async (t) => {
  const auth = createReporterAuth(TRUSTED, { resolver: dns() });
  const r = await auth(env(await sign(report('feedback@fbl.isp.example'), edKey)));
  t.equal(r.verdict, 'trusted');
  t.same(r.dkimPass, ['fbl.isp.example']);
});

t.test('a valid signature of an untrusted domain: unverified', async (t) => {
  const auth = createReporterAuth(TRUSTED, { resolver: dns() });
  const r = await auth(env(await sign(report('feedback@spammer.example'), spammerKey)));
  t.equal(r.verdict, 'unverified');
  t.equal(r.basis, 'no-trusted-signature');
  t.same(r.dkimPass, ['spammer.example'], 'the signature itself verified');
});

t.test('a trusted d= on mail From another organisation is not aligned: unverified', async (t) => {
  const auth = createReporterAuth(TRUSTED, { resolver: dns() });
  const r = await auth(env(await sign(report('ceo@victim.example'), ispKey)));
  t.equal(r.verdict, 'unverified');
  t.same(r.dkimPass, ['fbl.isp.example']);
  t.equal(r.fromDomain, 'victim.example');
});

t.test('a From that merely ends like the trusted domain: unverified', async (t) => {
  const key = rsaKey('evilfbl.isp.example.attacker.example');
  const auth = createReporterAuth(TRUSTED, { resolver: stubResolver(dkimTxt(key)) });
  const r = await auth(env(await sign(report('feedback@evilfbl.isp.example.attacker.example'), key)));
  t.equal(r.verdict, 'unverified');
});

t.test('a tampered body no longer verifies: unverified', async (t) => {
  const auth = createReporterAuth(TRUSTED, { resolver: dns() });
  const signed = (await sign(report('feedback@fbl.isp.example'), ispKey)).toString();
  const r = await auth(env(Buffer.from(signed.replace('192.0.2.1', '192.0.2.99'))));
  t.equal(r.verdict, 'unverified');
  t.same(r.dkimPass, []);
});

t.test('a tampered signed header no longer verifies: unverified', async (t) => {
  const auth = createReporterAuth(TRUSTED, { resolver: dns() });
  const signed = (await sign(report('feedback@fbl.isp.example'), ispKey)).toString();
  const r = await auth(env(Buffer.from(signed.replace('Subject: Email Feedback Report', 'Subject: Email Feedback Report!'))));
  t.equal(r.verdict, 'unverified');
});

t.test('a signature with l= and a part added after it: unverified', async (t) => {
  const auth = createReporterAuth(TRUSTED, { resolver: dns() });
  const body = 'Feedback-Type: abuse\n';
  const signed = (await sign(report('feedback@fbl.isp.example', { body }), ispKey, { maxBodyLength: body.length + 1 })).toString();
  t.match(signed, /\bl=\d+/);
  const r = await auth(env(Buffer.from(signed + 'Feedback-Type: abuse\r\nOriginal-Rcpt-To: someone-else@victim.example\r\n')));
  t.same(r.dkimPass, ['fbl.isp.example'], 'the signed part verifies');
  t.equal(r.verdict, 'unverified', 'content beyond l= is not covered by the signature');
});

t.test('a second From address: no From domain, unverified (RFC 7489 §6.6.1)', async (t) => {
  const auth = createReporterAuth(TRUSTED, { resolver: dns() });
  const r = await auth(env(await sign(report('feedback@fbl.isp.example, ceo@victim.example'), ispKey)));
  t.equal(r.fromDomain, null);
  t.equal(r.verdict, 'unverified');
});

t.test('DMARC pass for a trusted From domain, signed by its organisational domain: trusted', async (t) => {
  const resolver = stubResolver({ ...dkimTxt(ispOrgKey), '_dmarc.isp.example': 'v=DMARC1; p=reject' });
  const auth = createReporterAuth(TRUSTED, { resolver });
  const r = await auth(env(await sign(report('feedback@fbl.isp.example'), ispOrgKey)));
  t.equal(r.dmarc, 'pass');
  t.equal(r.verdict, 'trusted');
  t.equal(r.basis, 'dmarc:fbl.isp.example');
});

t.test('the same signature without a DMARC record: d= itself is not trusted, unverified', async (t) => {
  const auth = createReporterAuth(TRUSTED, { resolver: stubResolver(dkimTxt(ispOrgKey)) });
  const r = await auth(env(await sign(report('feedback@fbl.isp.example'), ispOrgKey)));
  t.equal(r.dmarc, 'none');
  t.equal(r.verdict, 'unverified');
});

t.test('DMARC pass for an untrusted From domain: unverified', async (t) => {
  const resolver = stubResolver({ ...dkimTxt(spammerKey), '_dmarc.spammer.example': 'v=DMARC1; p=reject' });
  const auth = createReporterAuth(TRUSTED, { resolver });
  const r = await auth(env(await sign(report('feedback@spammer.example'), spammerKey)));
  t.equal(r.dmarc, 'pass');
  t.equal(r.verdict, 'unverified');
});

t.test('SPF', async (t) => {
  // Only domains are trusted here, so the client IP alone proves nothing.
  const cfg = { trusted: ['fbl.isp.example'] };
  const ispIp = '198.51.100.7';
  const cases: Array<[string, Partial<AuthInput>, string, string, string]> = [
    ['pass for a trusted MAIL FROM aligned with From', { clientIp: ispIp, mailFrom: 'bounces@fbl.isp.example' }, 'feedback@fbl.isp.example', 'pass', 'spf:fbl.isp.example'],
    ['pass for a trusted null-sender HELO aligned with From', { clientIp: ispIp, mailFrom: '', helo: 'fbl.isp.example' }, 'feedback@fbl.isp.example', 'pass', 'spf:fbl.isp.example'],
    ['pass, but From another organisation', { clientIp: ispIp, mailFrom: 'bounces@fbl.isp.example' }, 'ceo@victim.example', 'pass', 'no-trusted-signature'],
    ['fail: a client outside the SPF record', { clientIp: OUTSIDE_IP, mailFrom: 'bounces@fbl.isp.example' }, 'feedback@fbl.isp.example', 'fail', 'no-trusted-signature'],
    ['pass for an untrusted domain', { clientIp: '203.0.113.20', mailFrom: 'x@spammer.example' }, 'feedback@spammer.example', 'pass', 'no-trusted-signature'],
  ];
  for (const [name, over, from, spf, basis] of cases) {
    const auth = createReporterAuth(cfg, { resolver: dns() });
    const r = await auth(env(Buffer.from(report(from).replace(/\n/g, '\r\n')), over));
    t.equal(r.spf, spf, `${name}: spf`);
    t.equal(r.basis, basis, `${name}: basis`);
    t.equal(r.verdict, basis.startsWith('spf:') ? 'trusted' : 'unverified', `${name}: verdict`);
  }
});

t.test('a client inside a trusted range is trusted whatever the message says', async (t) => {
  const unsigned = Buffer.from(report('whoever@anywhere.example').replace(/\n/g, '\r\n'));
  const cases: Array<[string, string, string]> = [
    ['IPv4 range', '198.51.100.7', 'ip:198.51.100.0/24'],
    ['IPv4 from a dual-stack socket', '::ffff:198.51.100.7', 'ip:198.51.100.0/24'],
    ['IPv6 range', '2001:db8:fb1::25', 'ip:2001:db8:fb1::/48'],
    ['IPv6 range, last address', '2001:db8:fb1:ffff:ffff:ffff:ffff:ffff', 'ip:2001:db8:fb1::/48'],
    ['IPv6 just outside', '2001:db8:fb2::1', 'no-trusted-signature'],
    ['IPv4 just outside', '198.51.101.0', 'no-trusted-signature'],
  ];
  for (const [name, clientIp, basis] of cases) {
    const r = await createReporterAuth(TRUSTED, { resolver: dns() })(env(unsigned, { clientIp }));
    t.equal(r.basis, basis, name);
    t.equal(r.verdict, basis.startsWith('ip:') ? 'trusted' : 'unverified', name);
  }
});

t.test('an empty trusted list trusts nothing (secure default)', async (t) => {
  const auth = createReporterAuth({ trusted: [] }, { resolver: dns() });
  const r = await auth(env(await sign(report('feedback@fbl.isp.example'), ispKey), { clientIp: '198.51.100.7' }));
  t.equal(r.verdict, 'unverified');
  t.same(r.dkimPass, ['fbl.isp.example'], 'the results are still recorded');
});

t.test('DNS failures', async (t) => {
  const signed = await sign(report('feedback@fbl.isp.example'), ispKey);

  t.test('a resolver that fails: unverified, temperror, no throw', async (t) => {
    const resolver = async () => {
      throw Object.assign(new Error('connection refused'), { code: 'ECONNREFUSED' });
    };
    const r = await createReporterAuth(TRUSTED, { resolver })(env(signed));
    t.equal(r.verdict, 'unverified');
    t.equal(r.basis, 'temperror');
  });

  t.test('a resolver that throws synchronously: the same', async (t) => {
    const resolver = (): Promise<never> => {
      throw new Error('boom');
    };
    const r = await createReporterAuth(TRUSTED, { resolver })(env(signed));
    t.equal(r.basis, 'temperror');
  });

  t.test('a resolver that never answers: unverified within the time limit', async (t) => {
    const resolver = () => new Promise<never>(() => {});
    const t0 = Date.now();
    const r = await createReporterAuth(TRUSTED, { resolver, timeoutMs: 300 })(env(signed));
    const took = Date.now() - t0;
    t.equal(r.verdict, 'unverified');
    t.equal(r.basis, 'temperror');
    t.ok(took >= 250 && took < 1500, `took ${took} ms`);
  });

  t.test('a slow resolver: the budget is for all lookups together', async (t) => {
    const fast = dns();
    const resolver = async (name: string, rrtype: string) => {
      await new Promise((r) => setTimeout(r, 120));
      return fast(name, rrtype);
    };
    // Each lookup alone fits in the budget; DKIM key, SPF and DMARC one after another do not.
    const untrusted = await sign(report('feedback@spammer.example'), spammerKey);
    const t0 = Date.now();
    const r = await createReporterAuth(TRUSTED, { resolver, timeoutMs: 200 })(env(untrusted, { mailFrom: 'b@spammer.example' }));
    const took = Date.now() - t0;
    t.ok(took < 1000, `took ${took} ms`);
    t.same(r.dkimPass, ['spammer.example'], 'the first lookup made it');
    t.equal(r.verdict, 'unverified');
    t.equal(r.basis, 'temperror');
  });

  t.test('trust proven before the budget ran out stands', async (t) => {
    const fast = dns();
    const resolver = async (name: string, rrtype: string) => {
      await new Promise((r) => setTimeout(r, 120));
      return fast(name, rrtype);
    };
    const r = await createReporterAuth(TRUSTED, { resolver, timeoutMs: 200 })(env(signed, { mailFrom: 'b@fbl.isp.example' }));
    t.equal(r.spf, 'temperror');
    t.equal(r.verdict, 'trusted');
    t.equal(r.basis, 'dkim:fbl.isp.example');
  });

  t.test('a hung resolver does not undo trust in a client range', async (t) => {
    const r = await createReporterAuth(TRUSTED, { resolver: () => new Promise<never>(() => {}), timeoutMs: 100 })(env(signed, { clientIp: '198.51.100.7' }));
    t.equal(r.verdict, 'trusted');
    t.equal(r.basis, 'ip:198.51.100.0/24');
  });

  t.test('a DMARC lookup that fails does not undo a trusted signature', async (t) => {
    const ok = dns();
    const resolver = async (name: string, rrtype: string) => {
      if (name.startsWith('_dmarc.')) throw Object.assign(new Error('servfail'), { code: 'ESERVFAIL' });
      return ok(name, rrtype);
    };
    const r = await createReporterAuth(TRUSTED, { resolver })(env(signed));
    t.equal(r.dmarc, 'temperror');
    t.equal(r.verdict, 'trusted');
  });
});

t.test('garbage: unverified, never a throw', async (t) => {
  const auth = createReporterAuth(TRUSTED, { resolver: dns() });
  const inputs: Array<[string, Buffer]> = [
    ['empty', Buffer.alloc(0)],
    ['random bytes', Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) % 256))],
    ['headers only, no body', Buffer.from('From: feedback@fbl.isp.example\r\n')],
    ['a broken DKIM-Signature', Buffer.from('DKIM-Signature: v=1; a=rsa-sha256; d=fbl.isp.example; s=s1; b=!!!; bh=???\r\nFrom: feedback@fbl.isp.example\r\n\r\nx\r\n')],
    ['a NUL-laden header block', Buffer.from('From: \0\0\0@\0\r\nDKIM-Signature: \0\r\n\r\n\0')],
  ];
  for (const [name, raw] of inputs) {
    const r = await auth(env(raw, { clientIp: 'not an ip', helo: '', mailFrom: '<<>>' }));
    t.equal(r.verdict, 'unverified', name);
  }
});

t.test('every verdict is counted', async (t) => {
  const get = async () => {
    const m = await registry.getSingleMetric('abusegate_reporter_auth_total')!.get();
    const n = (verdict: string, basis: string) => m.values.find((v) => v.labels.verdict === verdict && v.labels.basis === basis)?.value ?? 0;
    return { trustedDkim: n('trusted', 'dkim'), unverifiedNone: n('unverified', 'no-trusted-signature') };
  };
  const before = await get();
  const auth = createReporterAuth(TRUSTED, { resolver: dns() });
  await auth(env(await sign(report('feedback@fbl.isp.example'), ispKey)));
  await auth(env(await sign(report('feedback@spammer.example'), spammerKey)));
  await auth(env(await sign(report('feedback@spammer.example'), spammerKey)));
  const after = await get();
  t.equal(after.trustedDkim - before.trustedDkim, 1);
  t.equal(after.unverifiedNone - before.unverifiedNone, 2);
});

t.test('a trusted list with a mistake is refused at start', async (t) => {
  for (const bad of ['com', '198.51.100.0/33', '2001:db8::/129', 'not a domain', '*.yahoo.com', '10.0.0.0/x', 'a..b']) {
    t.throws(() => createReporterAuth({ trusted: ['fbl.isp.example', bad] }), { message: /trusted reporters/ }, bad);
  }
  t.doesNotThrow(() => createReporterAuth({ trusted: ['fbl.isp.example', 'FBL.Other.Example.', '192.0.2.1', '2001:db8::1', ' 198.51.100.0/24 ', ''] }));
});
