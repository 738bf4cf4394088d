import t from 'tap';
import { attribute, parseFeedbackId, verpToken } from '../../src/parse/attribution.js';
import { parseMessage } from '../../src/parse/index.js';
import { parseHeaderBlock } from '../../src/parse/mime.js';
import { createTokenCodec } from '../../src/token/token.js';

const codec = createTokenCodec({ current: 'b', keys: { a: 'an old secret of 32 bytes or so!', b: 'the current secret, long enough' } });
const otherCodec = createTokenCodec({ current: 'b', keys: { b: 'somebody else entirely, 32 bytes' } });

const LONG = codec.mintLong({ account: 'acme', campaign: 'spring-24', recipient: 'Alice@ISP.example' });
const SHORT = codec.mintShort({ account: 'acme', campaign: 'spring-24' });
const OTHER_SHORT = codec.mintShort({ account: 'globex', campaign: 'c9' });
const FID = 'promo7:initech:bulk:esp1';

function headers(lines: string[]) {
  return parseHeaderBlock(lines.join('\n'));
}

function flip(token: string): string {
  const i = token.length - 3;
  return token.slice(0, i) + (token[i] === 'A' ? 'B' : 'A') + token.slice(i + 1);
}

t.test('token in the header: verified, names the recipient', async (t) => {
  const r = attribute({ headers: headers([`X-Abuse-Token: ${LONG}`]), codec });
  t.same(r.attribution, { account: 'acme', campaign: 'spring-24', verified: true, via: 'token' });
  t.equal(r.recipient, 'Alice@ISP.example');
});

t.test('token header: folded, bracketed, renamed, configurable name, List-Unsubscribe', async (t) => {
  const folded = `X-Abuse-Token: <${LONG.slice(0, 30)}\n ${LONG.slice(30)}>`;
  t.equal(attribute({ headers: headers([folded]), codec }).attribution.via, 'token', 'folded');
  t.equal(attribute({ headers: headers([`X-Campaign-Tag: ${LONG}`]), codec, tokenHeader: 'X-Campaign-Tag' }).attribution.account, 'acme');
  t.equal(attribute({ headers: headers([`X-Original-X-Abuse-Token: ${LONG}`]), codec }).attribution.via, 'token', 'renamed by the ISP');
  const lu = `List-Unsubscribe: <https://u.example.com/u/${LONG}>, <mailto:unsubscribe@gate.example>`;
  t.equal(attribute({ headers: headers([lu]), codec }).attribution.via, 'token', 'List-Unsubscribe');
});

t.test('forged or foreign tokens are never attributed', async (t) => {
  for (const bad of [flip(LONG), LONG.slice(0, -4), otherCodec.mintLong({ account: 'acme', campaign: 'x', recipient: 'a@b.example' }), '1bAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA']) {
    const r = attribute({ headers: headers([`X-Abuse-Token: ${bad}`]), codec });
    t.same(r.attribution, { account: null, campaign: null, verified: false, via: 'none' }, bad.slice(0, 12));
    t.equal(r.recipient, null);
  }
  const forgedVerp = attribute({ headers: headers([`Return-Path: <bounces+${flip(SHORT)}@b.gate.example>`]), codec });
  t.equal(forgedVerp.attribution.via, 'none', 'altered VERP token');
});

t.test('VERP token in the Return-Path', async (t) => {
  const r = attribute({ headers: headers([`Return-Path: <bounces+${SHORT}@b.gate.example>`]), codec });
  t.same(r.attribution, { account: 'acme', campaign: 'spring-24', verified: true, via: 'verp' });
  t.equal(r.recipient, null, 'a short token names no recipient');
  const lower = attribute({ headers: headers([`Return-Path: <BOUNCES+${SHORT.toUpperCase()}@B.GATE.EXAMPLE>`]), codec });
  t.equal(lower.attribution.account, 'acme', 'survives case changes');
  const mailFrom = attribute({ headers: headers(['Subject: x']), envelopeAddresses: [`bounces+${SHORT}@b.gate.example`], codec });
  t.equal(mailFrom.attribution.via, 'verp', 'Original-Mail-From');
  const env = attribute({ headers: null, envelopeToken: SHORT, codec });
  t.equal(env.attribution.via, 'verp', 'the envelope token of bounces+TOKEN@');
  t.equal(verpToken(`<bounces+${SHORT}@b.gate.example>`), SHORT);
  t.equal(verpToken('plain@b.gate.example'), null);
});

t.test('Feedback-ID: attributed but never verified', async (t) => {
  const r = attribute({ headers: headers([`Feedback-ID: ${FID}`]), codec });
  t.same(r.attribution, { account: 'initech', campaign: 'promo7', verified: false, via: 'feedback-id' });
  t.same(parseFeedbackId('c1:acct-2:sender'), { account: 'acct-2', campaign: 'c1' });
  t.same(parseFeedbackId(':acct-2:bulk:sender'), { account: 'acct-2', campaign: null });
  t.equal(parseFeedbackId('2'), null, "another sender's opaque value");
  t.equal(parseFeedbackId('1.us-east-1.abc=:AmazonSES'), null);
  t.equal(parseFeedbackId('a:b c:d:e'), null, 'not an id');
  t.same(attribute({ headers: headers([`Feedback-ID: ${FID}`]) }).attribution.via, 'feedback-id', 'works without a codec');
});

t.test('long token in the body: the footer link, even wrapped', async (t) => {
  const body = `Unsubscribe: https://u.example.com/u/${LONG}\n`;
  const r = attribute({ headers: null, bodyText: body, codec });
  t.same(r.attribution, { account: 'acme', campaign: 'spring-24', verified: true, via: 'token' });
  t.equal(r.recipient, 'Alice@ISP.example');
  const qp = `<a href=3D"https://u.example.com/u/${LONG.slice(0, 40)}=\n${LONG.slice(40)}">unsubscribe</a>`;
  t.equal(attribute({ headers: null, bodyText: () => qp, codec }).attribution.account, 'acme', 'undecoded QP soft break');
  t.equal(attribute({ headers: null, bodyText: `https://u.example.com/u/${flip(LONG)}`, codec }).attribution.via, 'none', 'forged link');
});

t.test('order: header token → body token → VERP → Feedback-ID → none', async (t) => {
  const other = codec.mintLong({ account: 'globex', campaign: 'c9', recipient: 'bob@isp.example' });
  const all = headers([`Return-Path: <bounces+${OTHER_SHORT}@b.gate.example>`, `X-Abuse-Token: ${LONG}`, `Feedback-ID: ${FID}`]);
  t.equal(attribute({ headers: all, bodyText: `https://u.example.com/u/${other}`, codec }).attribution.account, 'acme', 'header token first');
  const noHeaderToken = headers([`Return-Path: <bounces+${OTHER_SHORT}@b.gate.example>`, `Feedback-ID: ${FID}`]);
  const body = attribute({ headers: noHeaderToken, bodyText: `https://u.example.com/u/${LONG}`, codec });
  t.equal(body.attribution.account, 'acme', 'body token before VERP');
  t.equal(body.attribution.via, 'token');
  const verp = attribute({ headers: noHeaderToken, codec });
  t.same(verp.attribution, { account: 'globex', campaign: 'c9', verified: true, via: 'verp' });
  t.equal(attribute({ headers: noHeaderToken }).attribution.via, 'feedback-id', 'without a codec nothing verifies');
  t.equal(attribute({ headers: headers([`X-Abuse-Token: ${flip(LONG)}`, `Feedback-ID: ${FID}`]), codec }).attribution.via, 'feedback-id', 'a forged token falls through');
  t.equal(attribute({ headers: headers(['Subject: x']), codec }).attribution.via, 'none');
});

// ---------------------------------------------------------------------------------------
// Through parseMessage: recipient precedence and unattributed reports

function report(opts: { rcptTo?: string; to: string; originalHeaders?: string[]; body?: string }): Buffer {
  const fields = ['Feedback-Type: abuse', 'User-Agent: T/1', 'Version: 1', ...(opts.rcptTo ? [`Original-Rcpt-To: ${opts.rcptTo}`] : [])];
  return Buffer.from(
    [
      'From: fbl@isp.example',
      'To: fbl@gate.example',
      'Subject: report',
      'MIME-Version: 1.0',
      'Content-Type: multipart/report; report-type=feedback-report; boundary="b"',
      '',
      '--b',
      'Content-Type: message/feedback-report',
      '',
      ...fields,
      '--b',
      'Content-Type: message/rfc822',
      '',
      'From: news@sender.example',
      `To: ${opts.to}`,
      'Subject: Offers',
      'Message-ID: <m@sender.example>',
      ...(opts.originalHeaders ?? []),
      '',
      opts.body ?? 'hello',
      '--b--',
      '',
    ].join('\n'),
  );
}

t.test("recipient: the token's, then Original-Rcpt-To, then the original's To", async (t) => {
  const withToken = parseMessage(report({ rcptTo: 'rcpt@isp.example', to: 'to@isp.example', originalHeaders: [`X-Abuse-Token: ${LONG}`] }), { codec });
  t.equal(withToken.recipients[0].address, 'Alice@isp.example', 'token recipient');
  t.same(withToken.attribution, { account: 'acme', campaign: 'spring-24', verified: true, via: 'token' });
  const redacted = parseMessage(report({ rcptTo: 'redacted@isp.example', to: 'redacted@isp.example', originalHeaders: [`X-Abuse-Token: ${LONG}`] }), { codec });
  t.same([redacted.recipients[0].address, redacted.recipients[0].redacted], ['Alice@isp.example', true], 'recovers a redacted recipient');
  const noToken = parseMessage(report({ rcptTo: 'rcpt@isp.example', to: 'to@isp.example' }), { codec });
  t.equal(noToken.recipients[0].address, 'rcpt@isp.example', 'Original-Rcpt-To');
  const toOnly = parseMessage(report({ to: 'to@isp.example' }), { codec });
  t.equal(toOnly.recipients[0].address, 'to@isp.example', 'To');
  const bodyToken = parseMessage(report({ to: 'redacted@isp.example', body: `Stop: https://u.example.com/u/${LONG}` }), { codec });
  t.equal(bodyToken.recipients[0].address, 'Alice@isp.example', 'token from the original body');
});

t.test('a report with no account is unattributed', async (t) => {
  const r = parseMessage(report({ rcptTo: 'rcpt@isp.example', to: 'to@isp.example', originalHeaders: [`X-Abuse-Token: ${flip(LONG)}`] }), { codec });
  t.equal(r.kind, 'complaint');
  t.same(r.attribution, { account: null, campaign: null, verified: false, via: 'none' });
  t.equal(r.recipients[0].address, 'rcpt@isp.example');
});

t.test('VERP via Original-Mail-From and the envelope token', async (t) => {
  const msg = report({ to: 'to@isp.example' }).toString().replace('User-Agent: T/1', `User-Agent: T/1\nOriginal-Mail-From: <bounces+${SHORT}@b.gate.example>`);
  t.equal(parseMessage(Buffer.from(msg), { codec }).attribution.via, 'verp');
  const plain = Buffer.from('From: x@y.example\nTo: bounces@gate.example\nSubject: hi\n\nhello\n');
  t.same(parseMessage(plain, { codec, envelopeToken: SHORT, mailbox: 'bounces' }).attribution, { account: 'acme', campaign: 'spring-24', verified: true, via: 'verp' });
});

t.test('abuse@: an inline forward that lost the headers is traced through the body link', async (t) => {
  const fwd = [
    'From: Victim <victim@mail.example>',
    'To: abuse@gate.example',
    'Subject: Fwd: Offers',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: quoted-printable',
    '',
    'Stop sending me this!',
    '',
    '---------- Forwarded message ---------',
    'From: Shop <news@sender.example>',
    'Date: Tue, 2 Jan 2024 10:00:00 +0000',
    'Subject: Offers',
    'To: victim@mail.example',
    '',
    `Unsubscribe: https://u.example.com/u/${LONG.slice(0, 50)}=`,
    `${LONG.slice(50)}`,
    '',
  ].join('\n');
  const r = parseMessage(Buffer.from(fwd), { codec, mailbox: 'abuse' });
  t.equal(r.kind, 'abuse');
  t.same(r.attribution, { account: 'acme', campaign: 'spring-24', verified: true, via: 'token' });
  t.equal(r.original.subject, 'Offers', 'the pasted original');
  t.equal(r.original.from, 'Shop <news@sender.example>');
});

t.test('unsubscribe+TOKEN@: the sender opts out', async (t) => {
  const msg = Buffer.from(`From: Bob <bob@isp.example>\nTo: unsubscribe+${SHORT}@gate.example\nSubject: unsubscribe\n\n`);
  const r = parseMessage(msg, { codec, mailbox: 'unsubscribe', envelopeToken: SHORT });
  t.equal(r.kind, 'unsubscribe');
  t.same(r.attribution, { account: 'acme', campaign: 'spring-24', verified: true, via: 'verp' });
  t.same(r.recipients.map((x) => [x.address, x.feedbackType]), [['bob@isp.example', 'opt-out']]);
});
