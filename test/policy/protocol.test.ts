import t from 'tap';
import { createLogger } from '../../src/log.js';
import { registry } from '../../src/metrics.js';
import {
  ACTIONS,
  RequestFramer,
  decidePolicy,
  parseRequest,
  rejectText,
  subjectOf,
  verpToken,
  type ParseResult,
  type PolicyRequest,
} from '../../src/policy/protocol.js';
import { createPolicyServer, type PolicyConfig, type PolicyDeps } from '../../src/policy/server.js';
import { createTokenCodec } from '../../src/token/token.js';
import { PolicyClient, encodeRequest, rcptRequest } from './client.js';

const codec = createTokenCodec({ current: 'a', keys: { a: 'test-secret-0123456789abcdef-0123456789' } });
const accountFromToken = (token: string): string | null => {
  const c = codec.verify(token);
  return c?.form === 'short' ? c.account : null;
};
const verp = (account: string): string => `bounces+${codec.mintShort({ account, campaign: 'c1' })}@bounce.example`;

function req(attrs: Record<string, string>): PolicyRequest {
  const p = parseRequest(encodeRequest(attrs).slice(0, -2));
  if (!p.ok) throw new Error(p.detail);
  return p.request;
}

t.test('parseRequest', async (t) => {
  const cases: Array<[string, string[], string]> = [
    ['a Postfix RCPT request', encodeRequest(rcptRequest()).slice(0, -2).split('\n'), 'ok'],
    ['empty values are fine', ['request=smtpd_access_policy', 'sender=', 'recipient='], 'ok'],
    ['a value may hold "="', ['request=smtpd_access_policy', 'ccert_subject=CN=a=b'], 'ok'],
    ['8-bit data in a value is passed through', ['request=smtpd_access_policy', 'helo_name=h\ufffd\ufffd'], 'ok'],
    ['an attribute we do not read may repeat', ['request=smtpd_access_policy', 'stress=', 'stress='], 'ok'],
    ['no attributes', [], 'empty'],
    ['no request=', ['recipient=a@b.example', 'sender='], 'no-request'],
    ['another request type', ['request=junk', 'recipient=a@b.example'], 'unsupported-request'],
    ['a line without "="', ['request=smtpd_access_policy', 'hello world'], 'bad-line'],
    ['an empty name', ['request=smtpd_access_policy', '=x'], 'bad-line'],
    ['a name with a space', ['request=smtpd_access_policy', 'bad name=x'], 'bad-line'],
    ['an empty line inside', ['request=smtpd_access_policy', '', 'x=1'], 'bad-line'],
    ['NUL in a value', ['request=smtpd_access_policy', 'recipient=a\x00@b.example'], 'binary'],
    ['escape bytes in a name', ['request=smtpd_access_policy', '\x1b[0m=x'], 'binary'],
    ['invalid UTF-8 without "="', ['request=smtpd_access_policy', '\ufffd\ufffd'], 'binary'],
    ['a repeated recipient', ['request=smtpd_access_policy', 'recipient=a@b.example', 'recipient=c@d.example'], 'duplicate-attribute'],
    ['a repeated sender', ['sender=', 'request=smtpd_access_policy', 'sender=x@y.example'], 'duplicate-attribute'],
    ['too many attributes', ['request=smtpd_access_policy', ...Array.from({ length: 1000 }, (_, i) => `x${i}=1`)], 'too-many-attributes'],
  ];
  for (const [name, lines, want] of cases) {
    const p = parseRequest(lines.join('\n'));
    t.equal(p.ok ? 'ok' : p.reason, want, name);
    if (!p.ok) t.type(p.detail, 'string', `${name}: says why`);
  }
  const p = parseRequest(['request=smtpd_access_policy', 'recipient=A@B.example', 'sender=s@x.example', 'sasl_username=acct', 'queue_id=Q1', 'requestx=1', 'senders=2'].join('\n'));
  t.ok(p.ok);
  if (p.ok) t.same(p.request, { recipient: 'A@B.example', sender: 's@x.example', saslUsername: 'acct', queueId: 'Q1', protocolState: '' });
});

t.test('RequestFramer', async (t) => {
  const f = new RequestFramer(1024);
  const wire = Buffer.from('request=smtpd_access_policy\nrecipient=a@b.example\n\nrequest=smtpd_access_policy\r\nx=1\r\n\r\n\n');
  // Byte by byte: a request may arrive split anywhere, even inside a UTF-8 sequence.
  const events = [];
  for (let i = 0; i < wire.length; i++) events.push(...f.push(wire.subarray(i, i + 1)));
  t.same(events, [
    { kind: 'request', text: 'request=smtpd_access_policy\nrecipient=a@b.example' },
    { kind: 'request', text: 'request=smtpd_access_policy\nx=1' },
    { kind: 'request', text: '' },
  ]);
  const whole = new RequestFramer(1024);
  t.same(whole.push(wire), events, 'the same in one chunk');
  t.equal(f.midRequest, false);
  const utf8 = Buffer.from('recipient=jörg@bücher.example\n\n');
  const g = new RequestFramer();
  const out = [...g.push(utf8.subarray(0, 13)), ...g.push(utf8.subarray(13))];
  t.same(out, [{ kind: 'request', text: 'recipient=jörg@bücher.example' }], 'a multi-byte character split across chunks');

  const small = new RequestFramer(100);
  t.same(small.push(Buffer.from('a=1\n\n')), [{ kind: 'request', text: 'a=1' }]);
  t.same(small.push(Buffer.from('a=' + 'x'.repeat(60) + '\n')), []);
  t.match(small.push(Buffer.from('b=' + 'x'.repeat(60) + '\n\nc=1\n\n')), [{ kind: 'oversize' }], 'over the limit across lines');
  t.same(small.push(Buffer.from('c=1\n\n')), [], 'nothing after an oversize request');
  const noNewline = new RequestFramer(100);
  t.match(noNewline.push(Buffer.alloc(101, 0x41)), [{ kind: 'oversize', bytes: 101 }], 'a line that never ends');
});

t.test('verpToken and subjectOf', async (t) => {
  t.equal(verpToken('bounces+abc@x.example', 'bounces'), 'abc');
  t.equal(verpToken('BOUNCES+abc@x.example', 'bounces'), 'abc', 'prefix case-insensitive');
  t.equal(verpToken('bounces@x.example', 'bounces'), null);
  t.equal(verpToken('bounces+@x.example', 'bounces'), null);
  t.equal(verpToken('bouncesx+abc@x.example', 'bounces'), null);
  t.equal(verpToken('', 'bounces'), null);
  t.equal(verpToken('bounces+abc', 'bounces'), null);

  const sender = verp('acme');
  const forged = sender.replace(/\+(.)/, (_m, c: string) => `+${c === 'a' ? 'b' : 'a'}`);
  const opts = (accountFrom: 'verp' | 'sasl' | 'verp-then-sasl') => ({ accountFrom, verpPrefix: 'bounces', accountFromToken });
  const cases: Array<[string, 'verp' | 'sasl' | 'verp-then-sasl', Record<string, string>, unknown]> = [
    ['verp token', 'verp', { sender }, { ok: true, account: 'acme', via: 'verp', address: 'someone@example.com' }],
    ['verp, upper-cased by an MTA', 'verp', { sender: sender.toUpperCase() }, { ok: true, account: 'acme' }],
    ['verp ignores sasl', 'verp', { sender: 'x@y.example', sasl_username: 'acme' }, { ok: false, why: 'no-account' }],
    ['forged token', 'verp', { sender: forged }, { ok: false, why: 'no-account' }],
    ['null sender', 'verp', { sender: '' }, { ok: false, why: 'no-account' }],
    ['sasl', 'sasl', { sasl_username: 'acme2', sender }, { ok: true, account: 'acme2', via: 'sasl' }],
    ['sasl, not logged in', 'sasl', { sender }, { ok: false, why: 'no-account' }],
    ['sasl name not an account id', 'sasl', { sasl_username: 'bob smith' }, { ok: false, why: 'no-account' }],
    ['verp first', 'verp-then-sasl', { sender, sasl_username: 'other' }, { ok: true, account: 'acme', via: 'verp' }],
    ['then sasl', 'verp-then-sasl', { sender: forged, sasl_username: 'other' }, { ok: true, account: 'other', via: 'sasl' }],
    ['no recipient (MAIL FROM stage)', 'verp', { sender, recipient: '' }, { ok: false, why: 'no-recipient' }],
    ['unusable recipient', 'verp', { sender, recipient: 'postmaster' }, { ok: false, why: 'bad-recipient' }],
    ['recipient normalised (domain and local part case-folded, address.ts)', 'verp', { sender, recipient: 'Jo@EXAMPLE.com.' }, { ok: true, address: 'jo@example.com' }],
  ];
  for (const [name, from, over, want] of cases) t.match(subjectOf(req(rcptRequest(over)), opts(from)), want, name);
});

t.test('decidePolicy and rejectText', async (t) => {
  const good = parseRequest('request=smtpd_access_policy');
  const bad: ParseResult = { ok: false, reason: 'no-request', detail: '' };
  t.same(decidePolicy(good, { kind: 'skipped' }), { result: 'dunno', action: 'action=DUNNO' });
  t.same(decidePolicy(good, { kind: 'found', suppression: null }), { result: 'dunno', action: 'action=DUNNO' });
  t.same(decidePolicy(good, { kind: 'found', suppression: { reason: 'complaint' } }), { result: 'reject', action: 'action=REJECT 5.7.1 Recipient suppressed (complaint)' });
  t.same(decidePolicy(good, { kind: 'failed' }), { result: 'defer', action: 'action=DEFER_IF_PERMIT 4.3.0 Service temporarily unavailable' });
  t.same(decidePolicy(bad, { kind: 'found', suppression: { reason: 'x' } }), { result: 'malformed', action: 'action=DEFER_IF_PERMIT 4.7.0 Malformed policy request' });
  t.equal(rejectText('a\n\naction=OK\x00'), 'Recipient suppressed (a action=OK)', 'a stored reason cannot inject a reply');
  t.equal(rejectText(''), 'Recipient suppressed');
  t.equal(rejectText('x'.repeat(500)).length, 'Recipient suppressed ()'.length + 100);
});

interface Harness {
  port: number;
  logs: Array<Record<string, unknown>>;
  calls: Array<[string, string]>;
  stop(): Promise<void>;
}

async function harness(
  t: { teardown(fn: () => unknown): void },
  over: Partial<PolicyConfig> = {},
  lookup?: PolicyDeps['lookup'],
): Promise<Harness> {
  const logs: Array<Record<string, unknown>> = [];
  const calls: Array<[string, string]> = [];
  const suppressed = new Map([['acme\0blocked@example.com', 'complaint'], ['acme\0hard@example.com', 'userunknown']]);
  const server = createPolicyServer(
    { port: 0, host: '127.0.0.1', accountFrom: 'verp-then-sasl', verpPrefix: 'bounces', idleTimeoutMs: 5000, maxRequestBytes: 4096, ...over },
    {
      log: createLogger('debug', { write: (s: string) => void logs.push(JSON.parse(s)) }),
      accountFromToken,
      lookup:
        lookup ??
        (async (account, address) => {
          calls.push([account, address]);
          const reason = suppressed.get(`${account}\0${address}`);
          return reason ? { reason } : null;
        }),
    },
  );
  const port = await server.listen();
  t.teardown(() => server.stop(100));
  return { port, logs, calls, stop: () => server.stop(1000) };
}

async function metric(result: string): Promise<number> {
  const m = await registry.getSingleMetric('abusegate_policy_requests_total')!.get();
  return m.values.find((v) => v.labels.result === result)?.value ?? 0;
}

t.test('policy server: answers on a persistent connection', async (t) => {
  const h = await harness(t);
  const c = await PolicyClient.connect(h.port);
  t.teardown(() => c.close());
  const before = { reject: await metric('reject'), dunno: await metric('dunno') };
  t.equal(await c.ask(rcptRequest({ sender: verp('acme'), recipient: 'blocked@EXAMPLE.com' })), 'action=REJECT 5.7.1 Recipient suppressed (complaint)');
  t.equal(await c.ask(rcptRequest({ sender: verp('acme'), recipient: 'fine@example.com' })), 'action=DUNNO');
  t.equal(await c.ask(rcptRequest({ sender: verp('other'), recipient: 'blocked@example.com' })), 'action=DUNNO', 'suppressions are per account');
  t.equal(await c.ask(rcptRequest({ sasl_username: 'acme', recipient: 'Hard@example.com' })), 'action=REJECT 5.7.1 Recipient suppressed (userunknown)', 'account from sasl_username');
  t.equal(await c.ask(rcptRequest({ sender: 'someone@else.example' })), 'action=DUNNO', 'no account: not checked');
  t.equal(await c.ask(rcptRequest({ sender: verp('acme'), recipient: '', protocol_state: 'MAIL' })), 'action=DUNNO', 'MAIL FROM stage');
  t.same(h.calls, [['acme', 'blocked@example.com'], ['acme', 'fine@example.com'], ['other', 'blocked@example.com'], ['acme', 'hard@example.com']]);
  t.equal(await metric('reject'), before.reject + 2);
  t.equal(await metric('dunno'), before.dunno + 4);
  t.ok(h.logs.some((l) => l.msg === 'policy request not checked' && l.why === 'no-account'), 'unattributed requests are logged at debug');
  t.match(await registry.metrics(), /^abusegate_policy_duration_seconds_count (\d+)$/m, 'latency observed');
  const count = Number(/^abusegate_policy_duration_seconds_count (\d+)$/m.exec(await registry.metrics())?.[1]);
  t.ok(count >= 6, `${count} latencies observed`);
});

t.test('policy server: pipelined requests are answered in order', async (t) => {
  // The first lookup is the slowest: replies must still come back in request order.
  const delays = new Map([['a0@example.com', 60], ['a1@example.com', 0], ['a2@example.com', 30]]);
  const h = await harness(t, {}, async (_account, address) => {
    await new Promise((r) => setTimeout(r, delays.get(address) ?? 0));
    return address.startsWith('a1') || address.startsWith('n') ? { reason: address.split('@')[0] } : null;
  });
  const c = await PolicyClient.connect(h.port);
  t.teardown(() => c.close());
  const sender = verp('acme');
  c.write(['a0', 'a1', 'a2'].map((l) => encodeRequest(rcptRequest({ sender, recipient: `${l}@example.com` }))).join('') + 'garbage\n\n');
  t.same([await c.read(), await c.read(), await c.read(), await c.read()], ['action=DUNNO', 'action=REJECT 5.7.1 Recipient suppressed (a1)', 'action=DUNNO', ACTIONS.malformed]);
  // Many at once, written in one go and in odd-sized pieces.
  const wire = Buffer.from(Array.from({ length: 500 }, (_, i) => encodeRequest(rcptRequest({ sender, recipient: `n${i}@example.com` }))).join(''));
  for (let i = 0; i < wire.length; i += 777) c.write(wire.subarray(i, i + 777));
  const got: Array<string | null> = [];
  for (let i = 0; i < 500; i++) got.push(await c.read());
  t.same(got, Array.from({ length: 500 }, (_, i) => `action=REJECT 5.7.1 Recipient suppressed (n${i})`));
});

t.test('policy server: malformed requests are refused, logged, and the connection lives on', async (t) => {
  const h = await harness(t);
  const c = await PolicyClient.connect(h.port);
  t.teardown(() => c.close());
  const before = await metric('malformed');
  const bad: Array<[string, string | Buffer]> = [
    ['no request=', 'recipient=blocked@example.com\nsender=x@y.example\n\n'],
    ['another request type', 'request=junk\n\n'],
    ['an empty request', '\n'],
    ['garbage text', 'GET / HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['binary bytes', Buffer.concat([Buffer.from([0, 1, 2, 0xff, 0xfe, 0x80, 0x1b]), Buffer.from('\n\n')])],
    ['binary in a value', Buffer.concat([Buffer.from('request=smtpd_access_policy\nrecipient=a'), Buffer.from([0, 7]), Buffer.from('@b.example\n\n')])],
  ];
  for (const [name, wire] of bad) {
    c.write(wire);
    t.equal(await c.read(), 'action=DEFER_IF_PERMIT 4.7.0 Malformed policy request', name);
  }
  t.equal(await c.ask(rcptRequest({ sender: verp('acme'), recipient: 'blocked@example.com' })), 'action=REJECT 5.7.1 Recipient suppressed (complaint)', 'still serving');
  t.equal(await metric('malformed'), before + bad.length);
  t.ok(h.logs.some((l) => l.code === 'POLICY_MALFORMED' && l.level === 40 && l.reason === 'no-request'), 'logged with code POLICY_MALFORMED');
});

t.test('policy server: an oversize request is refused and the connection closed', async (t) => {
  const h = await harness(t, { maxRequestBytes: 4096 });
  const c = await PolicyClient.connect(h.port);
  t.equal(await c.ask(rcptRequest()), 'action=DUNNO');
  c.write('request=smtpd_access_policy\n' + `junk=${'x'.repeat(5000)}\n\n`);
  t.equal(await c.read(), ACTIONS.malformed);
  await c.closedAt;
  t.pass('closed after the reply');
  const d = await PolicyClient.connect(h.port);
  t.teardown(() => d.close());
  t.equal(await d.ask(rcptRequest({ sender: verp('acme'), recipient: 'blocked@example.com' })), 'action=REJECT 5.7.1 Recipient suppressed (complaint)', 'the server is fine');
});

t.test('policy server: a failing lookup answers DEFER_IF_PERMIT', async (t) => {
  let redisDown = true;
  const h = await harness(t, {}, (account) => {
    if (account === 'sync') throw new Error('boom');
    return redisDown ? Promise.reject(new Error('Command timed out')) : Promise.resolve(null);
  });
  const c = await PolicyClient.connect(h.port);
  t.teardown(() => c.close());
  const before = await metric('defer');
  t.equal(await c.ask(rcptRequest({ sender: verp('acme') })), 'action=DEFER_IF_PERMIT 4.3.0 Service temporarily unavailable');
  t.equal(await c.ask(rcptRequest({ sender: verp('sync') })), 'action=DEFER_IF_PERMIT 4.3.0 Service temporarily unavailable', 'a lookup that throws synchronously');
  redisDown = false;
  t.equal(await c.ask(rcptRequest({ sender: verp('acme') })), 'action=DUNNO', 'recovers');
  t.equal(await metric('defer'), before + 2);
  t.ok(h.logs.some((l) => l.code === 'POLICY_LOOKUP_FAILED' && l.err === 'Command timed out'));
});

t.test('policy server: idle connections are closed, busy ones are not', async (t) => {
  let release: () => void = () => {};
  const h = await harness(t, { idleTimeoutMs: 150 }, (_a, address) =>
    address.startsWith('slow') ? new Promise((r) => (release = () => r(null))) : Promise.resolve(null),
  );
  const idle = await PolicyClient.connect(h.port);
  t.equal(await idle.ask(rcptRequest()), 'action=DUNNO');
  const started = Date.now();
  await idle.closedAt;
  t.ok(Date.now() - started >= 100, 'closed after the idle timeout');

  const busy = await PolicyClient.connect(h.port);
  t.teardown(() => busy.close());
  busy.write(encodeRequest(rcptRequest({ sender: verp('acme'), recipient: 'slow@example.com' })));
  await new Promise((r) => setTimeout(r, 400));
  t.equal(busy.closed, false, 'a connection waiting for a lookup stays open');
  release();
  t.equal(await busy.read(), 'action=DUNNO');
});

t.test('policy server: stop answers what is in flight and closes', async (t) => {
  let release: () => void = () => {};
  let asked: () => void = () => {};
  const lookedUp = new Promise<void>((r) => (asked = r));
  const h = await harness(t, {}, () => {
    asked();
    return new Promise((r) => (release = () => r({ reason: 'complaint' })));
  });
  const c = await PolicyClient.connect(h.port);
  const idle = await PolicyClient.connect(h.port);
  t.teardown(() => c.close());
  c.write(encodeRequest(rcptRequest({ sender: verp('acme') })));
  await lookedUp;
  const stopped = h.stop();
  await idle.closedAt;
  t.pass('an idle connection is closed at once');
  release();
  t.equal(await c.read(), 'action=REJECT 5.7.1 Recipient suppressed (complaint)');
  await c.closedAt;
  await stopped;
  await t.rejects(PolicyClient.connect(h.port), 'no longer accepting');
});
