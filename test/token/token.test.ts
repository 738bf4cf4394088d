import { createCipheriv, createHmac, hkdfSync } from 'node:crypto';
import t from 'tap';
import {
  createTokenCodec,
  parseTokenSecrets,
  TokenError,
  type TokenClaims,
  type TokenKeys,
} from '../../src/token/token.js';

const SECRET_A = 'abusegate-test-vector-secret-0001';
const SECRET_B = 'rotated-secret-for-key-b-2025';
const ID_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-';
const B32 = 'abcdefghijklmnopqrstuvwxyz234567';
const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

const codecA = createTokenCodec({ current: 'a', keys: { a: SECRET_A } });

/** Deterministic PRNG (mulberry32) so that a failure can be replayed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = s;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

function randomId(rand: () => number, maxLen: number): string {
  const len = 1 + Math.floor(rand() * maxLen);
  let s = '';
  // Lean on the edge characters: they are the ones an encoder gets wrong.
  for (let i = 0; i < len; i++) s += rand() < 0.3 ? '._-'[Math.floor(rand() * 3)] : ID_CHARS[Math.floor(rand() * ID_CHARS.length)];
  return s;
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof TokenError) return err.code;
    throw err;
  }
  return undefined;
}

t.test('known-answer vectors (the test vectors of docs/integration.md)', async (t) => {
  const vectors = [
    {
      spec: SECRET_A,
      account: 'acme',
      campaign: 'spring-sale',
      recipient: 'jane.doe@example.com',
      long: '1a_HZKv3faC3WnfjZ-rQlKGdjVFPQOeRUGKQWHoR1NZmRUlyq_NqRtFj83xUJGDi4vjiAxiPSVZPv97FxPyDY1PHk',
      short: 'anpkekrwopppyublrscz2h7qcxatioxelp',
    },
    {
      spec: `b:${SECRET_B}`,
      account: 'Org_7.eu-west',
      campaign: 'Newsletter-2025.06_A',
      recipient: 'Zo\u00eb.M\u00fcller@ex\u00e4mple.de',
      long: '1bnHP3ZsaiZ3nh-laqcJjzXjLIPmFglZK9xSANoKnTpi_bvG8CsXyDYInIs3W_6cTd-LjGl00_ARQTIFl6madbFon20pLO_W893TRQHyNTZTh2yjGqaL_Q',
      short: 'bngnp6mw6u7kkrk2frn2nfsxzsbohdmxgy6s6idawhupesa2tqsgmmf',
    },
    {
      spec: `b:${SECRET_B}`,
      account: '----------------',
      campaign: '----------------',
      recipient: 'x@y',
      long: '1bYiy2013vFNW-KMLEYRBnfE8xcVm1u_hEUCvQC8xPYmj0PCKJ_HVpWeI1CWE5Z91He9PuqNgfOGw-KusWthbzbcI',
      short: 'bkryoeesgd4inkwcxgzw44alczno5zun63knps55y57rz656o35777',
    },
  ];
  for (const v of vectors) {
    const codec = createTokenCodec(parseTokenSecrets(v.spec));
    const kid = v.long[1];
    t.equal(codec.mintLong(v), v.long, `long ${v.account}`);
    // The legacy short form (no recipient): kept verifying during the transition.
    t.equal(codec.mintShort({ account: v.account, campaign: v.campaign }), v.short, `short ${v.account}`);
    t.same(codec.verify(v.long), { account: v.account, campaign: v.campaign, recipient: v.recipient, kid, form: 'long' });
    t.same(codec.verify(v.short), { account: v.account, campaign: v.campaign, kid, form: 'short' });
    t.notOk(codec.boundTo(codec.verify(v.short)!, v.recipient), 'a legacy short token speaks for no recipient');
  }
});

t.test('round trip: long and short, random ids with edge characters', async (t) => {
  const rand = rng(20250601);
  let bad = 0;
  for (let i = 0; i < 500; i++) {
    const account = randomId(rand, 64);
    const campaign = randomId(rand, 64);
    const recipient = `${randomId(rand, 30)}@example.${i % 2 ? 'com' : 'org'}`;
    const long = codecA.mintLong({ account, campaign, recipient });
    const got = codecA.verify(long);
    if (got?.account !== account || got.campaign !== campaign || got.recipient !== recipient || got.form !== 'long') bad++;
    // Short tokens only have room for ids of up to 16 characters each (and some longer).
    const sa = randomId(rand, 16);
    const sc = randomId(rand, 16);
    const short = codecA.mintShort({ account: sa, campaign: sc });
    t.match(short, /^[a-z2-7]+$/);
    const s = codecA.verify(short);
    if (s?.account !== sa || s.campaign !== sc || s.form !== 'short' || 'recipient' in s) bad++;
  }
  t.equal(bad, 0, 'every random token verifies to what it was minted from');

  const edges: Array<[string, string]> = [
    ['a', 'b'],
    ['A', 'A'],
    ['-', '-'],
    ['.', '_'],
    ['_', '.'],
    ['0', '9'],
    ['x'.repeat(64), '-'.repeat(64)],
    ['-'.repeat(64), 'A'],
  ];
  for (const [account, campaign] of edges) {
    const long = codecA.mintLong({ account, campaign, recipient: 'r@x' });
    t.same(codecA.verify(long), { account, campaign, recipient: 'r@x', kid: 'a', form: 'long' }, `long ${account}/${campaign}`);
    if (account.length + campaign.length <= 32) {
      const short = codecA.mintShort({ account, campaign });
      t.same(codecA.verify(short), { account, campaign, kid: 'a', form: 'short' }, `short ${account}/${campaign}`);
    }
  }

  const unicode = 'ユーザー+tag@例え.jp';
  t.equal(codecA.verify(codecA.mintLong({ account: 'a', campaign: 'c', recipient: unicode }))?.recipient, unicode);
  const max = 'r'.repeat(300) + '@example.com'.repeat(2).slice(0, 20);
  t.equal(Buffer.byteLength(max), 320);
  t.equal(codecA.verify(codecA.mintLong({ account: 'a', campaign: 'c', recipient: max }))?.recipient, max, '320 octets round trip');
});

t.test('minting is deterministic and depends on every input', async (t) => {
  const base = { account: 'acme', campaign: 'spring', recipient: 'jane@example.com' };
  t.equal(codecA.mintLong(base), codecA.mintLong({ ...base }));
  const tokens = new Set([
    codecA.mintLong(base),
    codecA.mintLong({ ...base, recipient: 'jane@example.org' }),
    codecA.mintLong({ ...base, campaign: 'spring2' }),
    codecA.mintLong({ ...base, account: 'acme2' }),
    // The separator must keep ("ab", "c") and ("a", "bc") apart.
    codecA.mintLong({ ...base, account: 'acmes', campaign: 'pring' }),
  ]);
  t.equal(tokens.size, 5);
  t.not(codecA.mintShort({ account: 'ab', campaign: 'c' }), codecA.mintShort({ account: 'a', campaign: 'bc' }));
});

t.test('the short form survives case changes by MTAs', async (t) => {
  const short = codecA.mintShort({ account: 'Acme.EU', campaign: 'Spring_Sale-2' });
  const want = { account: 'Acme.EU', campaign: 'Spring_Sale-2', kid: 'a', form: 'short' };
  t.same(codecA.verify(short.toLowerCase()), want);
  t.same(codecA.verify(short.toUpperCase()), want);
  const mixed = [...short].map((c, i) => (i % 2 ? c.toUpperCase() : c)).join('');
  t.same(codecA.verify(mixed), want);
  // U+212A KELVIN SIGN lowercases to ASCII 'k'; it is not a spelling of the token.
  const withK = codecA.mintShort({ account: 'acme', campaign: 'spring-sale' });
  const i = withK.indexOf('k');
  t.ok(i > 0 && codecA.verify(withK.toUpperCase()), 'the vector has a k, in upper case too');
  t.equal(codecA.verify(withK.slice(0, i) + '\u212a' + withK.slice(i + 1)), null);
});

t.test('changing any single character of either form fails verification', async (t) => {
  // Several keys so that swapping the kid for another known one is tried too.
  const codec = createTokenCodec({ current: 'a', keys: { a: SECRET_A, b: SECRET_B, c: SECRET_A } });
  const long = codec.mintLong({ account: 'acme', campaign: 'spring-sale', recipient: 'jane.doe@example.com' });
  const short = codec.mintShort({ account: 'acme', campaign: 'spring-sale' });
  t.ok(codec.verify(long) && codec.verify(short));

  let tried = 0;
  const accepted: string[] = [];
  for (let i = 0; i < long.length; i++) {
    // Every base64url character: includes those that differ only in the unused low bits of
    // the last character, which a lax decoder maps to the same bytes.
    for (const ch of B64URL + '1') {
      if (ch === long[i]) continue;
      const forged = long.slice(0, i) + ch + long.slice(i + 1);
      tried++;
      if (codec.verify(forged) !== null) accepted.push(forged);
    }
  }
  for (let i = 0; i < short.length; i++) {
    for (const ch of B32 + '1') {
      if (ch === short[i]) continue;
      const forged = short.slice(0, i) + ch + short.slice(i + 1);
      tried++;
      if (codec.verify(forged) !== null) accepted.push(forged);
    }
  }
  t.ok(tried > 5000);
  t.same(accepted, [], 'no altered token verifies');
});

t.test('truncated or extended tokens fail verification', async (t) => {
  const long = codecA.mintLong({ account: 'acme', campaign: 'spring-sale', recipient: 'jane.doe@example.com' });
  const short = codecA.mintShort({ account: 'acme', campaign: 'spring-sale' });
  const accepted: string[] = [];
  for (const tok of [long, short]) {
    for (let n = 0; n < tok.length; n++) {
      if (codecA.verify(tok.slice(0, n)) !== null) accepted.push(tok.slice(0, n));
      if (codecA.verify(tok.slice(tok.length - n)) !== null) accepted.push(tok.slice(tok.length - n));
    }
    for (const ch of ['a', 'A', '-', '2']) if (codecA.verify(tok + ch) !== null) accepted.push(tok + ch);
  }
  t.same(accepted, []);
});

t.test('unknown key ids, and key ids swapped between keys, are rejected', async (t) => {
  const q = createTokenCodec({ current: 'q', keys: { q: SECRET_A } });
  const long = q.mintLong({ account: 'acme', campaign: 'c', recipient: 'r@x' });
  const short = q.mintShort({ account: 'acme', campaign: 'c' });
  t.equal(codecA.verify(long), null);
  t.equal(codecA.verify(short), null);
  // Same secret under both ids: the key id is bound into the GCM AAD and the MAC input.
  const both = createTokenCodec({ current: 'a', keys: { a: SECRET_A, q: SECRET_A } });
  t.equal(both.verify(long)?.kid, 'q');
  t.equal(both.verify('1a' + long.slice(2)), null);
  t.equal(both.verify('a' + short.slice(1)), null);
});

t.test('the synthetic IV is checked: GCM-valid tokens with any other nonce are refused', async (t) => {
  // What a sender that used random nonces (or a leaked K_enc alone) would produce.
  const enc = Buffer.from(hkdfSync('sha256', SECRET_A, '', 'abusegate/v1/enc', 32));
  const mint = (nonce: Buffer): string => {
    const c = createCipheriv('aes-256-gcm', enc, nonce);
    c.setAAD(Buffer.from('1a'));
    const ct = Buffer.concat([c.update(Buffer.from('acme\x00spring\x00r@x')), c.final()]);
    return '1a' + Buffer.concat([nonce, ct, c.getAuthTag()]).toString('base64url');
  };
  const genuine = codecA.mintLong({ account: 'acme', campaign: 'spring', recipient: 'r@x' });
  const siv = Buffer.from(genuine.slice(2), 'base64url').subarray(0, 12);
  t.equal(mint(siv), genuine, 'same construction with the synthetic IV gives the genuine token');
  t.equal(codecA.verify(mint(Buffer.alloc(12, 7))), null);
  const flipped = Buffer.from(siv);
  flipped[11] ^= 1;
  t.equal(codecA.verify(mint(flipped)), null);
});

t.test('authentic short payloads that do not decode to two ids are refused', async (t) => {
  // Mint straight from the description in docs/integration.md, for any symbol string.
  const kShort = Buffer.from(hkdfSync('sha256', SECRET_A, '', 'abusegate/v1/short', 32));
  const symbols = '\x00' + ID_CHARS;
  const digits = (x: bigint): string => [...x.toString(32)].map((d) => B32[parseInt(d, 32)]).join('');
  const withMac = (payload: string): string => {
    const mac = createHmac('sha256', kShort).update('sa' + payload).digest().readBigUInt64BE(0);
    return 'a' + digits(mac).padStart(13, 'a') + payload;
  };
  const mint = (s: string, zeros = ''): string => {
    let n = 0n;
    for (const ch of s) n = n * 66n + BigInt(symbols.indexOf(ch));
    return withMac(zeros + digits(n));
  };
  t.equal(mint('acme\x00spring-sale'), codecA.mintShort({ account: 'acme', campaign: 'spring-sale' }), 'the documented recipe matches');
  for (const s of ['acme', 'acme\x00', 'acme\x00\x00x', 'a\x00b\x00c', 'x'.repeat(65) + '\x00c', 'a\x00' + 'x'.repeat(65)]) {
    t.equal(codecA.verify(mint(s)), null, JSON.stringify(s));
  }
  t.equal(codecA.verify(mint('acme\x00spring-sale', 'a')), null, 'a leading zero digit is not a second spelling');
});

t.test('rotation: old tokens verify while the old key is kept', async (t) => {
  const old = createTokenCodec(parseTokenSecrets(`a:${SECRET_A}`));
  const long = old.mintLong({ account: 'acme', campaign: 'c', recipient: 'r@x' });
  const short = old.mintShort({ account: 'acme', campaign: 'c' });

  const rotated = createTokenCodec(parseTokenSecrets(`b:${SECRET_B},a:${SECRET_A}`));
  t.same(rotated.verify(long), { account: 'acme', campaign: 'c', recipient: 'r@x', kid: 'a', form: 'long' });
  t.same(rotated.verify(short), { account: 'acme', campaign: 'c', kid: 'a', form: 'short' });
  t.match(rotated.mintLong({ account: 'acme', campaign: 'c', recipient: 'r@x' }), /^1b/, 'the first key mints');
  t.match(rotated.mintShort({ account: 'acme', campaign: 'c' }), /^b/);

  const retired = createTokenCodec(parseTokenSecrets(`b:${SECRET_B}`));
  t.equal(retired.verify(long), null);
  t.equal(retired.verify(short), null);
});

/** base64 / base64url spellings of `s` at each of the three byte alignments it could sit at. */
function base64Spellings(s: string): string[] {
  const out: string[] = [];
  for (const pad of [0, 1, 2]) {
    const skip = [0, 2, 3][pad];
    for (const enc of ['base64', 'base64url'] as const) {
      const full = Buffer.concat([Buffer.alloc(pad), Buffer.from(s)]).toString(enc).replace(/=+$/, '');
      out.push(full.slice(skip, full.length - 2));
    }
  }
  return out.filter((x) => x.length >= 4);
}

t.test('the recipient cannot be read from a long token', async (t) => {
  const address = 'jane.doe.unique-local@example.com';
  const local = 'jane.doe.unique-local';
  // The check must be able to see a leak: a token that only encoded the plaintext fails it.
  const plain = Buffer.from(`acme\x00spring\x00${address}`).toString('base64url');
  t.ok(base64Spellings(local).some((s) => plain.includes(s)), 'a merely encoded recipient would be caught');

  for (const [account, campaign] of [['acme', 'spring'], ['ab', 'c'], ['abc', 'def']] as const) {
    const token = codecA.mintLong({ account, campaign, recipient: address });
    const lower = token.toLowerCase();
    t.notOk(lower.includes(address) || lower.includes(local) || lower.includes('example'), 'no address text');
    const bytes = Buffer.from(token.slice(2), 'base64url').toString('latin1');
    t.notOk(bytes.includes(local) || bytes.includes('example'), 'no address bytes');
    for (const s of [...base64Spellings(address), ...base64Spellings(local)]) {
      t.notOk(token.includes(s), `no base64 of the address (${s})`);
    }
  }
});

t.test('short tokens: 16+16 characters always fit, longer ids fail clearly', async (t) => {
  const worst = codecA.mintShort({ account: '-'.repeat(16), campaign: '-'.repeat(16) });
  t.ok(Buffer.byteLength('bounces+' + worst) <= 64, `worst case local part is ${8 + worst.length} octets`);
  t.equal(worst.length, 54);
  const rand = rng(7);
  let longest = 0;
  for (let i = 0; i < 300; i++) {
    const tok = codecA.mintShort({ account: randomId(rand, 16), campaign: randomId(rand, 16) });
    longest = Math.max(longest, tok.length);
  }
  t.ok(longest <= worst.length, 'no 16+16 id pair is longer than the worst case');

  t.equal(codeOf(() => codecA.mintShort({ account: 'x'.repeat(64), campaign: 'y'.repeat(64) })), 'TOKEN_TOO_LONG');
  t.equal(codeOf(() => codecA.mintShort({ account: '-'.repeat(16), campaign: '-'.repeat(16) }, 'bounces-prefix+')), 'TOKEN_TOO_LONG');
  // The limit is exact: 64 octets pass, 65 fail; the prefix is counted in octets.
  const tok = codecA.mintShort({ account: 'acme', campaign: 'spring' });
  t.equal(codecA.mintShort({ account: 'acme', campaign: 'spring' }, 'p'.repeat(64 - tok.length)), tok);
  t.equal(codeOf(() => codecA.mintShort({ account: 'acme', campaign: 'spring' }, 'p'.repeat(65 - tok.length))), 'TOKEN_TOO_LONG');
  t.equal(codeOf(() => codecA.mintShort({ account: 'acme', campaign: 'spring' }, 'é'.repeat(Math.ceil((65 - tok.length) / 2)))), 'TOKEN_TOO_LONG');
  try {
    codecA.mintShort({ account: 'x'.repeat(40), campaign: 'y'.repeat(40) });
  } catch (err) {
    t.match((err as Error).message, /64/);
    t.notMatch((err as Error).message, /\n/);
  }
});

t.test('bad ids and recipients are refused with stable codes', async (t) => {
  const badIds: unknown[] = ['', 'x'.repeat(65), 'a b', 'a/b', 'a@b', 'caf\u00e9', 'a\x00b', 'a+b', 'line\n', undefined, 42];
  for (const id of badIds) {
    t.equal(codeOf(() => codecA.mintLong({ account: id as string, campaign: 'c', recipient: 'r@x' })), 'TOKEN_BAD_ID', `account ${JSON.stringify(id)}`);
    t.equal(codeOf(() => codecA.mintLong({ account: 'a', campaign: id as string, recipient: 'r@x' })), 'TOKEN_BAD_ID');
    t.equal(codeOf(() => codecA.mintShort({ account: id as string, campaign: 'c' })), 'TOKEN_BAD_ID');
    t.equal(codeOf(() => codecA.mintShort({ account: 'a', campaign: id as string })), 'TOKEN_BAD_ID');
  }
  for (const r of ['', 'r'.repeat(321), 'é'.repeat(161), 'a\ud800@x', undefined]) {
    t.equal(codeOf(() => codecA.mintLong({ account: 'a', campaign: 'c', recipient: r as string })), 'TOKEN_BAD_RECIPIENT');
  }
  try {
    codecA.mintLong({ account: 'a', campaign: 'c', recipient: 'secret.person@example.com'.repeat(20) });
    t.fail('should throw');
  } catch (err) {
    t.notMatch((err as Error).message, /secret\.person/, 'the address is not in the message');
  }
});

t.test('verify never throws and rejects garbage', async (t) => {
  const rand = rng(99);
  const junk: unknown[] = [undefined, null, 42, {}, [], '', ' ', '1', '1a', 'a', '1a====', '1a' + 'A'.repeat(100), 'a'.repeat(1000), '1a' + '_'.repeat(5000), '\u0000'];
  for (let i = 0; i < 300; i++) {
    const len = Math.floor(rand() * 120);
    let s = rand() < 0.5 ? '1a' : 'a';
    const alphabet = rand() < 0.5 ? B64URL : B32;
    for (let j = 0; j < len; j++) s += alphabet[Math.floor(rand() * alphabet.length)];
    junk.push(s);
  }
  let accepted = 0;
  for (const j of junk) {
    t.doesNotThrow(() => {
      if (codecA.verify(j as string) !== null) accepted++;
    });
  }
  t.equal(accepted, 0);
  const long = codecA.mintLong({ account: 'a', campaign: 'c', recipient: 'r@x' });
  t.ok(codecA.verify(` ${long}\r\n`), 'surrounding whitespace of a header value is ignored');
});

t.test('parseTokenSecrets', async (t) => {
  t.same(parseTokenSecrets(SECRET_A), { current: 'a', keys: { a: SECRET_A } });
  t.same(parseTokenSecrets(`  ${SECRET_A}\n`), { current: 'a', keys: { a: SECRET_A } }, 'a trailing newline from a file is ignored');
  t.same(parseTokenSecrets(`b:${SECRET_B},a:${SECRET_A}`), { current: 'b', keys: { b: SECRET_B, a: SECRET_A } });
  t.same(parseTokenSecrets(`7:${SECRET_B} , a:${SECRET_A}`), { current: '7', keys: { '7': SECRET_B, a: SECRET_A } });
  t.same(parseTokenSecrets(`z:has:colons:in-it-123456`), { current: 'z', keys: { z: 'has:colons:in-it-123456' } });
  t.same(parseTokenSecrets(`c:${SECRET_B}`), { current: 'c', keys: { c: SECRET_B } });

  const bad = [
    '',
    '   ',
    'short',
    `a:short`,
    `A:${SECRET_A}`,
    `1:${SECRET_A}`,
    `8:${SECRET_A}`,
    `ab:${SECRET_A}`,
    `:${SECRET_A}`,
    `a:${SECRET_A},a:${SECRET_B}`,
    `a:${SECRET_A},,b:${SECRET_B}`,
    `a:${SECRET_A},`,
    `${SECRET_A},${SECRET_B}`,
    `a:${SECRET_A},${SECRET_B}`,
    'weird:bare-secret-with-a-colon',
  ];
  for (const spec of bad) {
    try {
      parseTokenSecrets(spec);
      t.fail(`accepted ${JSON.stringify(spec)}`);
    } catch (err) {
      t.ok(err instanceof TokenError, JSON.stringify(spec));
      const e = err as TokenError;
      t.equal(e.code, 'TOKEN_BAD_SECRET');
      t.match(e.message, /^ABUSEGATE_TOKEN_SECRET /);
      t.notMatch(e.message, /\n/, 'one line');
      t.notOk(e.message.includes(SECRET_A) || e.message.includes(SECRET_B) || e.message.includes('bare-secret'), 'no secret in the message');
    }
  }

  const badKeys: TokenKeys[] = [
    { current: 'x', keys: { a: SECRET_A } },
    { current: 'A', keys: { A: SECRET_A } },
    { current: 'a', keys: { a: 'too-short' } },
    { current: 'a', keys: {} },
  ];
  for (const keys of badKeys) {
    t.equal(codeOf(() => createTokenCodec(keys)), 'TOKEN_BAD_SECRET', JSON.stringify(keys.current));
  }
});

t.test('findInText finds long tokens in headers and bodies', async (t) => {
  const codec = createTokenCodec(parseTokenSecrets(`b:${SECRET_B},a:${SECRET_A}`));
  const jane = { account: 'acme', campaign: 'spring-sale', recipient: 'jane.doe@example.com' };
  const bob = { account: 'acme', campaign: 'autumn', recipient: 'bob@example.org' };
  const carol = { account: 'other.co', campaign: 'x', recipient: 'carol@example.net' };
  const tJane = codec.mintLong(jane);
  const tBob = codec.mintLong(bob);
  const tCarol = codecA.mintLong(carol); // minted under the old key 'a'
  const claims = (c: typeof jane, kid = 'b'): TokenClaims => ({ ...c, kid, form: 'long' });

  await t.test('a footer link wrapped by a forwarding client, with quote markers', async (t) => {
    const cut = 40;
    const text = [
      '---------- Forwarded message ---------',
      '> Thanks for reading. To stop these emails, visit https://unsub.example.com/u/' + tJane.slice(0, cut),
      '> ' + tJane.slice(cut) + ' or reply STOP.',
      '> Thanks!',
    ].join('\r\n');
    t.same(codec.findInText(text), [claims(jane)]);
  });

  await t.test('a wrapped link whose next line starts with a word', async (t) => {
    const text = `Unsubscribe: https://u.example/u/${tJane.slice(0, 30)}\n${tJane.slice(30)}\nThanks\n`;
    t.same(codec.findInText(text), [claims(jane)]);
    const text2 = `Unsubscribe: https://u.example/u/${tJane}\nThanks\n`;
    t.same(codec.findInText(text2), [claims(jane)], 'a complete token followed by a word on the next line');
  });

  await t.test('undecoded quoted-printable: soft breaks and =3D', async (t) => {
    const qp = `<a href=3D"https://unsub.example.com/u/${tJane.slice(0, 50)}=\r\n${tJane.slice(50)}">unsubscribe</a>`;
    t.same(codec.findInText(qp), [claims(jane)]);
  });

  await t.test('brackets, trailing punctuation, markdown, header values', async (t) => {
    const text = [
      `X-Abuse-Token: ${tBob}`,
      `List-Unsubscribe: <https://unsub.example.com/u/${tJane}>, <mailto:unsub@example.com>`,
      `See https://unsub.example.com/u/${tCarol}.`,
      `Again (https://unsub.example.com/u/${tJane}), and <https://unsub.example.com/u/${tBob}> too.`,
    ].join('\n');
    t.same(codec.findInText(text), [claims(bob), claims(jane), claims(carol, 'a')], 'verified, de-duplicated, in order');
    t.same(codec.findInText(`Markdown: _https://unsub.example.com/u/${tJane}_ and -- https://unsub.example.com/u/${tBob}--`), [
      claims(jane),
      claims(bob),
    ]);
  });

  await t.test('a token that itself ends in - or _ followed by more of them', async (t) => {
    let i = 0;
    let tok = '';
    for (; i < 1000 && !/[-_]$/.test(tok); i++) tok = codec.mintLong({ ...jane, recipient: `r${i}@x` });
    t.match(tok, /[-_]$/);
    t.same(codec.findInText(`link: https://u.example/u/${tok}-- bye`), [claims({ ...jane, recipient: `r${i - 1}@x` })]);
  });

  await t.test('forged, truncated and unknown tokens are ignored', async (t) => {
    const forged = tJane.slice(0, 20) + (tJane[20] === 'A' ? 'B' : 'A') + tJane.slice(21);
    const unknown = createTokenCodec({ current: 'z', keys: { z: SECRET_A } }).mintLong(jane);
    const text = `https://u.example/u/${forged}\nhttps://u.example/u/${tJane.slice(0, -3)}\nX-Abuse-Token: ${unknown}\n/u/3D${tJane}\n`;
    t.same(codec.findInText(text), []);
    t.same(codec.findInText(''), []);
    t.same(codec.findInText('1'.repeat(10000) + ' 1a' + 'A'.repeat(5000)), []);
  });

  await t.test('short tokens are not long tokens', async (t) => {
    t.same(codec.findInText(`Return-Path: <bounces+${codec.mintShort(jane)}@bounce.example.com>`), []);
  });
});

t.test('recipient-bound short form (issue 14): fits 64 octets, names its recipient only, legacy tokens end with the transition', async (t) => {
  const sixteen = '----------------';
  const bound = codecA.mintShort({ account: sixteen, campaign: sixteen, recipient: 'Jane.Doe@Example.com' });
  t.ok(('bounces+' + bound).length <= 64, `bounces+ and the longest 16-character ids: ${('bounces+' + bound).length} octets`);
  t.match(bound, /^[a-z2-7]+$/);
  const c = codecA.verify(bound)!;
  t.match(c, { account: sixteen, campaign: sixteen, form: 'short' });
  t.ok(codecA.boundTo(c, 'jane.doe@example.com'), 'case changes by MTAs keep the binding');
  t.ok(codecA.boundTo(codecA.verify(bound.toUpperCase())!, '<Jane.Doe@Example.com>'));
  t.notOk(codecA.boundTo(c, 'stranger@example.com'), 'another recipient is not bound');
  // Any altered character fails the MAC (tag included).
  for (let i = 1; i < bound.length; i++) {
    const ch = bound[i] === 'a' ? 'b' : 'a';
    const altered = bound.slice(0, i) + ch + bound.slice(i + 1);
    const v = codecA.verify(altered);
    if (v && v.recipientTag) t.fail(`altered at ${i} still verifies as bound`);
  }
  // Strangers: how many of 2000 random addresses share the 20-bit tag? About 2000/2^20.
  let shared = 0;
  for (let i = 0; i < 2000; i++) if (codecA.boundTo(c, `s${i}@example.net`)) shared++;
  t.ok(shared <= 1, `${shared} of 2000 strangers share the tag`);

  const legacy = codecA.mintShort({ account: 'acme', campaign: 'c1' });
  let now = Date.parse('2026-06-01T00:00:00Z');
  const transition = createTokenCodec({ current: 'a', keys: { a: SECRET_A } }, { legacyShortUntil: Date.parse('2026-07-01T00:00:00Z'), now: () => now });
  t.match(transition.verify(legacy), { account: 'acme', form: 'short' }, 'a legacy token verifies during the transition');
  now = Date.parse('2026-07-01T00:00:00Z');
  t.equal(transition.verify(legacy), null, 'and not after it');
  t.match(transition.verify(bound), { account: sixteen }, 'bound tokens are unaffected');
  const never = createTokenCodec({ current: 'a', keys: { a: SECRET_A } }, { legacyShortUntil: null });
  t.equal(never.verify(legacy), null, 'null: no transition');
});
