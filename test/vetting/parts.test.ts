import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { loadConfig } from '../../src/config/load.js';
import { bootstrapTable, loadBootstrap, rdapServer } from '../../src/vetting/rdap.js';
import { decide, weigh } from '../../src/vetting/score.js';
import type { Signal } from '../../src/vetting/signal.js';
import { addressSignals } from '../../src/vetting/signals/address.js';
import { networkOf } from '../../src/vetting/signals/history.js';
import { canonicalIp, dnsblName, readListing } from '../../src/vetting/signals/ip.js';

const cfg = loadConfig({ env: {}, overrides: {} }).vetting;

t.test('DNSBL query names (RFC 5782 §2.1, §2.4)', async (t) => {
  t.equal(dnsblName('192.0.2.99', 'zen.spamhaus.org'), '99.2.0.192.zen.spamhaus.org');
  t.equal(dnsblName('2001:db8:1:2::beef', 'zen.spamhaus.org'), 'f.e.e.b.0.0.0.0.0.0.0.0.0.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.zen.spamhaus.org');
  t.equal(canonicalIp('::ffff:45.67.89.10'), '45.67.89.10');
});

t.test('blocklist answers read as each list documents them', async (t) => {
  t.same(readListing('zen.spamhaus.org', ['127.0.0.2']), { listed: 'spam' }, 'SBL');
  t.same(readListing('zen.spamhaus.org', ['127.0.0.4']), { listed: 'spam' }, 'XBL');
  t.same(readListing('zen.spamhaus.org', ['127.0.0.10']), { listed: 'policy' }, 'PBL only');
  t.same(readListing('zen.spamhaus.org', ['127.0.0.11', '127.0.0.3']), { listed: 'spam' }, 'PBL and CSS');
  t.ok('refused' in readListing('zen.spamhaus.org', ['127.255.255.254']), 'a public resolver refused');
  t.same(readListing('bl.example', ['127.0.0.2']), { listed: 'spam' });
  t.same(readListing('bl.example', ['127.0.0.1']), { listed: 'none' }, '127.0.0.1 is not a listing (RFC 5782 §5)');
  t.same(readListing('bl.example', []), { listed: 'none' });
});

t.test('networks for linking: IPv4 /24, IPv6 /64', async (t) => {
  t.equal(networkOf('45.67.89.10'), '45.67.89.0/24');
  t.equal(networkOf('::ffff:45.67.89.10'), '45.67.89.0/24');
  t.equal(networkOf('2001:db8:0:12:1::5'), '2001:db8:0:12::/64');
  t.equal(networkOf('2001:0db8:0000:0012:ffff::1'), networkOf('2001:db8::12:aaaa:0:0:2'));
  t.equal(networkOf('nonsense'), null);
});

t.test('the shipped RDAP bootstrap finds the registry of common TLDs; a bad file is refused', async (t) => {
  const table = loadBootstrap(cfg.rdapBootstrap);
  t.match(rdapServer(table, 'mail.example.com'), /^https:\/\/rdap\.verisign\.com\/com\/v1\/$/);
  t.ok(rdapServer(table, 'example.org'));
  t.equal(rdapServer(table, 'example.invalid-tld'), null);
  t.throws(() => bootstrapTable({} as never));
  t.throws(() => bootstrapTable({ services: [['x', 'y']] } as never));
  t.equal(bootstrapTable({ services: [[['Example'], ['http://a/', 'https://b']]] }).get('example'), 'https://b/', 'https preferred, lower-cased, slash added');
});

t.test('address lists: disposable, free, and parents of a listed domain', async (t) => {
  const codes = (e: string) => addressSignals(e).map((s) => s.code);
  t.ok(codes('x@mailinator.com').includes('email.disposable'));
  t.ok(codes('x@gmail.com').includes('email.free-mailbox'));
  t.notOk(codes('x@gmail.com').includes('email.disposable'));
  t.ok(codes('x@sub.mailinator.com').includes('email.disposable'), 'a subdomain of a disposable service');
  t.same(codes('x@company.example'), ['email.ok']);
});

t.test('score: weights subtract; unavailable sources keep an account from approve', async (t) => {
  const s = (code: string, severity: Signal['severity'] = 'high'): Signal => ({ code: code as Signal['code'], severity, value: null, message: 'm', source: 's', weight: 0 });
  t.same(decide(weigh([], cfg), cfg), { score: 100, decision: 'approve' });
  t.same(decide(weigh([s('domain.ok', 'info')], cfg), cfg), { score: 100, decision: 'approve' });
  t.equal(decide(weigh([s('domain.mx.unavailable', 'unavailable')], cfg), cfg).decision, 'review');
  t.equal(decide(weigh([s('email.disposable'), s('ip.listed')], cfg), cfg).decision, 'reject');
  t.equal(decide(weigh([s('email.free-mailbox', 'low')], cfg), cfg).decision, 'approve');
  const many = Array.from({ length: 30 }, () => s('ip.listed'));
  t.equal(decide(weigh(many, cfg), cfg).score, 0, 'never below 0');
});

t.test('abusegate vetting refresh-rdap fetches, checks and writes the bootstrap file', async (t) => {
  const good = { description: 'test', publication: '2026-11-01T00:00:00Z', version: '1.0', services: [[['com', 'net'], ['https://rdap.example/com/']]] };
  const srv = createServer((req, res) => res.end(req.url === '/bad' ? '{"nope":1}' : JSON.stringify(good)));
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.teardown(() => srv.close());
  const base = `http://127.0.0.1:${(srv.address() as { port: number }).port}`;
  const out = join(mkdtempSync(join(tmpdir(), 'ag-rdap-')), 'dns.json');
  // The CLI runs from dist/ (npm test builds it), like the other CLI tests.
  const dist = new URL('../../dist/cli/index.js', import.meta.url).pathname;
  const exec = (...args: string[]) => promisify(execFile)(process.execPath, [dist, ...args]).then((r) => ({ code: 0, ...r }), (e: { code: number; stderr: string; stdout: string }) => e);
  const ok = await exec('vetting', 'refresh-rdap', '--url', `${base}/dns.json`, '--out', out);
  t.equal(ok.code, 0, ok.stderr);
  t.same(JSON.parse(readFileSync(out, 'utf8')), good);
  const bad = await exec('vetting', 'refresh-rdap', '--url', `${base}/bad`, '--out', out);
  t.equal(bad.code, 1);
  t.match(bad.stderr, /not an RDAP bootstrap file/);
  t.same(JSON.parse(readFileSync(out, 'utf8')), good, 'a bad file is not written');
});
