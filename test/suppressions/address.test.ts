import t from 'tap';
import { normaliseEmail, normalisePhone } from '../../src/address.js';
import { rng } from '../helpers/rng.js';

const email: Array<[string, string | null]> = [
  ['user@example.com', 'user@example.com'],
  ['  user@Example.COM  ', 'user@example.com'],
  ['<User@EXAMPLE.com>', 'User@example.com'],
  ['user@bücher.example', 'user@xn--bcher-kva.example'],
  ['user@BÜCHER.example', 'user@xn--bcher-kva.example'],
  ['user@example.com.', 'user@example.com'],
  ['first.last+tag@sub.example.co.uk', 'first.last+tag@sub.example.co.uk'],
  ['"quoted local"@example.com', null],
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
    return a && /^[a-z0-9.-]+$/.test(a) && (a.includes('.') || a === 'localhost') ? `u@${a}` : null;
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
