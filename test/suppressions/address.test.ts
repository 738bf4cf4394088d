import t from 'tap';
import { normaliseEmail, normalisePhone } from '../../src/address.js';
import { rng } from '../helpers/rng.js';

const email: Array<[string, string | null]> = [
  ['user@example.com', 'user@example.com'],
  ['  user@Example.COM  ', 'user@example.com'],
  // One key whatever the spelling: mailbox providers and our MTA treat local parts case-insensitively.
  ['<User@EXAMPLE.com>', 'user@example.com'],
  ['Blocked@Example.ORG', 'blocked@example.org'],
  ['"john"@example.org', 'john@example.org'],
  ['"john smith"@example.org', '"john smith"@example.org'],
  ['"John Smith"@example.org', '"john smith"@example.org'],
  ['Jöe@Example.net', 'jöe@example.net'],
  ['a..b@example.com', null],
  ['.a@example.com', null],
  ['a"b@example.com', null],
  ['a@example..com', null],
  ['a@-example.com', null],
  ['user@bücher.example', 'user@xn--bcher-kva.example'],
  ['user@BÜCHER.example', 'user@xn--bcher-kva.example'],
  ['user@example.com.', 'user@example.com'],
  ['first.last+tag@sub.example.co.uk', 'first.last+tag@sub.example.co.uk'],
  ['no-at-sign', null],
  ['@example.com', null],
  ['user@', null],
  ['user@exa mple.com', null],
  ['a'.repeat(65) + '@example.com', null],
];
for (const [input, want] of email) t.equal(normaliseEmail(input), want, JSON.stringify(input));

const phone: Array<[string, string | null]> = [
  ['+61400000000', '+61400000000'],
  [' +44 7700 900123 ', '+447700900123'],
  ['+1 (201) 555-0123', '+12015550123'],
  ['0400 000 000', null],
  ['+0123', null],
];
for (const [input, want] of phone) t.equal(normalisePhone(input), want, JSON.stringify(input));

// The ASCII fast path must give what the WHATWG domainToASCII route gives, including
// the names it rejects (a numeric last label is read as an IPv4 address and fails).
t.test('ASCII domains: the fast path agrees with domainToASCII', async (t) => {
  const { domainToASCII } = await import('node:url');
  const reference = (d: string): string | null => {
    const a = domainToASCII(d);
    // …and a host name: no empty label, none over 63 octets or with a hyphen at either end.
    const hostname = /^(?!-)[a-z0-9-]{1,63}(?<!-)(?:\.(?!-)[a-z0-9-]{1,63}(?<!-))*$/;
    // A name WHATWG reads as an IPv4 number ("0xb" → 0.0.0.11) names no mail domain.
    return a && hostname.test(a) && !/^[0-9.]+$/.test(a) && (a.includes('.') || a === 'localhost') ? `u@${a}` : null;
  };
  for (const d of ['1.2.3.4', 'example.123', 'example.0x1f', 'a..b', 'xn--bcher-kva.example', 'xn--zz.example', '-a.example', 'a.b-']) {
    t.equal(normaliseEmail(`u@${d}`), reference(d), d);
  }
  const next = rng(20261128);
  const alphabet = 'abx019.-';
  let differ = 0;
  for (let i = 0; i < 20_000; i++) {
    let d = i % 50 === 0 ? '0x' : '';
    for (let n = 1 + Math.floor(next() * 30); n > 0; n--) d += alphabet[Math.floor(next() * alphabet.length)];
    if (normaliseEmail(`u@${d}`) !== reference(d.replace(/\.$/, ''))) differ++;
  }
  t.equal(differ, 0, '20,000 random ASCII names');
});

t.test('one key for every spelling, and the cached preflight normaliser agrees', async (t) => {
  const { sameAddress } = await import('../../src/address.js');
  t.ok(sameAddress('Blocked@Example.ORG', 'blocked@example.org'));
  t.ok(sameAddress('user@BÜCHER.example', 'USER@xn--bcher-kva.example'));
  t.ok(sameAddress('"john"@example.org', 'John@example.org'));
  t.notOk(sameAddress('john.smith@example.org', '"john smith"@example.org'));
  t.notOk(sameAddress('not an address', 'not an address'));
});
