import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import t from 'tap';
import { decodeSecret, decodeSecrets, sign, signedHeaders, verify } from '../../src/webhook/sign.js';

// The example of the Standard Webhooks spec and its reference libraries' tests.
const SPEC = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
};

t.test('the Standard Webhooks example signs and verifies', async (t) => {
  t.equal(sign(decodeSecret(SPEC.secret), SPEC.id, SPEC.timestamp, SPEC.body), SPEC.signature);
  const ok = verify({ secrets: SPEC.secret, id: SPEC.id, timestamp: String(SPEC.timestamp), signature: SPEC.signature, body: SPEC.body, now: SPEC.timestamp + 10 });
  t.same(ok, { ok: true });
});

t.test('matches an independent implementation (python hmac) on random input', async (t) => {
  let python = true;
  try {
    execFileSync('python3', ['-c', 'pass']);
  } catch {
    python = false;
  }
  if (!python) return t.skip('python3 not installed');
  for (let i = 0; i < 5; i++) {
    const secret = 'whsec_' + randomBytes(24).toString('base64');
    const id = 'evt_' + randomBytes(8).toString('hex');
    const ts = 1_700_000_000 + i;
    const body = JSON.stringify({ type: 'recipient.suppressed', data: { address: 'é@example.org', n: i } });
    const py = execFileSync(
      'python3',
      [
        '-c',
        'import sys,hmac,hashlib,base64\n' +
          's,i,ts,b=sys.argv[1:5]\n' +
          'k=base64.b64decode(s[len("whsec_"):])\n' +
          'print("v1,"+base64.b64encode(hmac.new(k,(i+"."+ts+"."+b).encode(),hashlib.sha256).digest()).decode())',
        secret,
        id,
        String(ts),
        body,
      ],
      { encoding: 'utf8' },
    ).trim();
    t.equal(sign(decodeSecret(secret), id, ts, body), py, `vector ${i}`);
  }
});

t.test('rotation: both signatures are sent; either secret verifies', async (t) => {
  const oldS = 'whsec_' + randomBytes(32).toString('base64');
  const newS = 'whsec_' + randomBytes(32).toString('base64');
  const h = signedHeaders(decodeSecrets(`${oldS} ${newS}`), 'evt_1', 1_700_000_000, '{}');
  t.equal(h['webhook-signature'].split(' ').length, 2);
  t.match(h['webhook-signature'], /^v1,\S+ v1,\S+$/);
  for (const s of [oldS, newS]) {
    t.same(verify({ secrets: s, id: 'evt_1', timestamp: '1700000000', signature: h['webhook-signature'], body: '{}', now: 1_700_000_000 }), { ok: true });
  }
  const other = 'whsec_' + randomBytes(32).toString('base64');
  t.same(verify({ secrets: other, id: 'evt_1', timestamp: '1700000000', signature: h['webhook-signature'], body: '{}', now: 1_700_000_000 }), {
    ok: false,
    reason: 'no matching signature',
  });
});

t.test('verify rejects', async (t) => {
  const base = { secrets: SPEC.secret, id: SPEC.id, timestamp: String(SPEC.timestamp), signature: SPEC.signature, body: SPEC.body, now: SPEC.timestamp };
  const cases: Array<[string, Partial<typeof base> & { tolerance?: number }, string | null]> = [
    ['a changed body', { body: '{"test": 2432232315}' }, 'no matching signature'],
    ['another id', { id: 'msg_other' }, 'no matching signature'],
    ['another timestamp', { timestamp: String(SPEC.timestamp + 1), now: SPEC.timestamp + 1 }, 'no matching signature'],
    ['an old timestamp', { now: SPEC.timestamp + 301 }, 'timestamp too old'],
    ['a future timestamp', { now: SPEC.timestamp - 301 }, 'timestamp too far in the future'],
    ['an old timestamp, time check off', { now: SPEC.timestamp + 86400, tolerance: 0 }, null],
    ['within 5 minutes', { now: SPEC.timestamp + 299 }, null],
    ['a timestamp in ms', { timestamp: '1614265330000' }, 'webhook-timestamp is not seconds since the epoch'],
    ['garbage timestamp', { timestamp: 'yesterday' }, 'webhook-timestamp is not seconds since the epoch'],
    ['no v1 entry', { signature: 'v1a,abc' }, 'no v1 signature'],
    ['a truncated signature', { signature: SPEC.signature.slice(0, 20) }, 'no matching signature'],
    ['an unknown scheme next to the right one', { signature: `v2,zzz ${SPEC.signature}` }, null],
  ];
  for (const [name, change, reason] of cases) {
    t.same(verify({ ...base, ...change }), reason ? { ok: false, reason } : { ok: true }, name);
  }
});

t.test('secrets', async (t) => {
  t.throws(() => decodeSecret('whsec_!!!'), { code: 'WEBHOOK_SECRET' });
  t.throws(() => decodeSecrets('  '), { code: 'WEBHOOK_SECRET' });
  t.same(decodeSecret('whsec_AAEC'), Buffer.from([0, 1, 2]));
  t.same(decodeSecret('AAEC'), Buffer.from([0, 1, 2]), 'the prefix is optional');
});
