import t from 'tap';
import { normaliseEmail, normalisePhone } from '../../src/address.js';

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
