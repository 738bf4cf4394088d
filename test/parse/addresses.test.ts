/**
 * The hand-made cases of issue #15: an address is read exactly or not at all (never a
 * truncated one), through parseMessage as the SMTP path runs it; and the reading fixes.
 */
import t from 'tap';
import { parseMessage } from '../../src/parse/index.js';
import { parseMime, partText } from '../../src/parse/mime.js';

const dsn = (finalRecipient: string) =>
  Buffer.from(
    `From: MAILER-DAEMON@mx.example\nTo: bounces@ours.example\nSubject: Undelivered Mail Returned to Sender\nContent-Type: multipart/report; report-type=delivery-status; boundary="b"\n\n--b\nContent-Type: text/plain\n\nDelivery failed.\n--b\nContent-Type: message/delivery-status; charset=utf-8\n\nReporting-MTA: dns; mx.example\n\nFinal-Recipient: ${finalRecipient}\nAction: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 user unknown\n--b--\n`,
    'utf8',
  );
const arf = (rcpt: string) =>
  Buffer.from(
    `From: fbl@isp.example\nTo: fbl@ours.example\nSubject: complaint\nContent-Type: multipart/report; report-type=feedback-report; boundary="b"\n\n--b\nContent-Type: text/plain\n\nA complaint.\n--b\nContent-Type: message/feedback-report\n\nFeedback-Type: abuse\nUser-Agent: isp/1\nVersion: 1\nOriginal-Rcpt-To: ${rcpt}\n--b\nContent-Type: message/rfc822\n\nFrom: news@ours.example\nTo: ${rcpt}\nSubject: hi\n\nhello\n--b--\n`,
    'utf8',
  );
const long = 'x'.repeat(70);

const cases: Array<[string, Buffer, 'fbl' | 'bounces', string | null]> = [
  ['RFC 6533 utf-8 Final-Recipient', dsn('utf-8; müller@example.de'), 'bounces', 'müller@example.de'],
  ['RFC 6533 utf-8 with \\x{} escapes', dsn('utf-8; m\\x{FC}ller@example.de'), 'bounces', 'müller@example.de'],
  ['ARF Original-Rcpt-To with UTF-8', arf('jöe@example.net'), 'fbl', 'jöe@example.net'],
  ['a 70-character local part (DSN)', dsn(`rfc822; ${long}@example.com`), 'bounces', null],
  ['an IDN domain, kept as written', dsn('rfc822; user@bücher.example'), 'bounces', 'user@bücher.example'],
  ['a quoted local part', dsn('rfc822; "john smith"@example.org'), 'bounces', '"john smith"@example.org'],
  ['a quoted local part (ARF)', arf('"john smith"@example.org'), 'fbl', '"john smith"@example.org'],
];
for (const [label, raw, mailbox, want] of cases) {
  const rep = parseMessage(raw, { mailbox });
  t.equal(rep.recipients[0]?.address ?? null, want, label);
}

t.test('a VERP Original-Mail-From over 64 octets is not cut to its last 64 characters', async (t) => {
  const raw = Buffer.from(arf('a@example.net').toString().replace('Version: 1', `Version: 1\nOriginal-Mail-From: <bounces+${long}@ours.example>`));
  const rep = parseMessage(raw, { mailbox: 'fbl' });
  t.equal(rep.original.returnPath, null);
});

t.test('a boundary that is a prefix of another does not split the inner parts', async (t) => {
  const m = parseMime(
    Buffer.from('Content-Type: multipart/mixed; boundary="=_b"\n\n--=_b\nContent-Type: multipart/alternative; boundary="=_b_alt"\n\n--=_b_alt\nContent-Type: text/plain\n\ninner\n--=_b_alt--\n--=_b--\n'),
  );
  t.equal(m.children.length, 1);
  t.equal(m.children[0].children.length, 1);
  t.equal(partText(m.children[0].children[0]).trim(), 'inner');
});

t.test('text/rfc822-headers stops at the first blank line', async (t) => {
  const m = parseMime(Buffer.from('Content-Type: multipart/report; boundary="b"\n\n--b\nContent-Type: text/rfc822-headers\n\nFrom: a@b.example\nSubject: s\n\nReturn-Path: <evil@x.example>\n--b--\n'));
  const h = m.children[0].children[0].headers;
  t.equal(h.get('subject'), 's');
  t.equal(h.get('return-path'), undefined);
});

t.test('blank lines before the header block are tolerated', async (t) => {
  const rep = parseMessage(Buffer.from('\n\r\nFrom: a@b.example\nSubject: s\n\nhello\n'));
  t.equal(rep.error, undefined);
  t.equal(rep.original.subject ?? parseMime(Buffer.from('\nSubject: s\n\nx')).headers.get('subject'), 's');
});

t.test('Latin-1 labels read as windows-1252; raw UTF-8 headers decoded once', async (t) => {
  const m = parseMime(Buffer.concat([Buffer.from('Subject: Gr\xc3\xbc\xc3\x9fe aus M\xc3\xbcnchen\nContent-Type: text/plain; charset=iso-8859-1\n\n', 'latin1'), Buffer.from([0x93, 0x68, 0x69, 0x94])]));
  t.equal(m.headers.decoded('subject'), 'Grüße aus München');
  t.equal(partText(m), '“hi”');
});
