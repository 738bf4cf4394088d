import { readFileSync } from 'node:fs';
import t from 'tap';
import { parseArf } from '../../src/parse/arf.js';
import { parseMessage } from '../../src/parse/index.js';
import { parseMime } from '../../src/parse/mime.js';
import { createTokenCodec } from '../../src/token/token.js';

const CORPUS = new URL('../../../shared/corpus/bounces/', import.meta.url);
/** Sisimai's stand-in when a report names no recipient; ours is address null, redacted. */
const SISIMAI_UNDISCLOSED = 'undisclosed-recipient-in-headers@libsisimai.org.invalid';

interface KeyLine {
  file: string;
  index: number;
  recipient: string;
  feedbacktype: string;
  reason: string;
}

t.test('every arf-*.eml of the corpus: kind, feedback type and recipients of the answer key', async (t) => {
  const key = readFileSync(new URL('answer-key.jsonl', CORPUS), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as KeyLine)
    .filter((k) => /(^|\/)arf-[^/]*\.eml$/.test(k.file));
  const files = [...new Set(key.map((k) => k.file))];
  t.ok(files.length >= 10, `${files.length} ARF files in the key`);
  for (const file of files) {
    const want = key.filter((k) => k.file === file).sort((a, b) => a.index - b.index);
    const r = parseMessage(readFileSync(new URL(file, CORPUS)));
    t.equal(r.kind, 'complaint', `${file} kind`);
    t.same(
      r.recipients.map((x) => x.address?.toLowerCase() ?? null),
      want.map((k) => (k.recipient === SISIMAI_UNDISCLOSED ? null : k.recipient.toLowerCase())),
      `${file} recipients`,
    );
    for (const [i, k] of want.entries()) {
      const got = r.recipients[i];
      if (!got) continue;
      t.equal(got.feedbackType, k.feedbacktype, `${file} #${k.index} feedback type`);
      t.equal(got.reason, 'feedback', `${file} #${k.index} reason`);
      t.equal(got.hard, false);
      if (k.recipient === SISIMAI_UNDISCLOSED) t.equal(got.redacted, true, `${file} #${k.index} withheld`);
    }
  }
});

// ---------------------------------------------------------------------------------------
// Hand-made dialects

const ORIGINAL = [
  'Return-Path: <bounces@sender.example>',
  'Received: from mta.sender.example (mta.sender.example [192.0.2.9]) by mx.isp.example',
  'Message-ID: <m1@sender.example>',
  'Date: Tue, 2 Jan 2024 10:00:00 +0000',
  'From: Shop <news@sender.example>',
  'To: alice@isp.example',
  'Subject: Offers',
  '',
  'Buy now',
].join('\n');

function arf(opts: {
  fields: string[];
  original?: string | null;
  originalType?: string;
  preamble?: string;
  crlf?: boolean;
}): Buffer {
  const b = 'b0undary';
  const orig = opts.original === undefined ? ORIGINAL : opts.original;
  const parts = [
    `--${b}\nContent-Type: text/plain\n\nThis is an email abuse report.\n`,
    `--${b}\nContent-Type: message/feedback-report\n\n${opts.fields.join('\n')}\n`,
  ];
  if (orig !== null) parts.push(`--${b}\nContent-Type: ${opts.originalType ?? 'message/rfc822'}\nContent-Disposition: inline\n\n${orig}\n`);
  const msg = [
    'From: Feedback <fbl@isp.example>',
    'To: fbl@gate.example',
    'Subject: Abuse report',
    'Message-ID: <r1@isp.example>',
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=feedback-report;\n boundary="${b}"`,
    '',
    opts.preamble ?? 'This is a multi-part message in MIME format.',
    ...parts,
    `--${b}--`,
    '',
  ].join('\n');
  return Buffer.from(opts.crlf ? msg.replace(/\n/g, '\r\n') : msg, 'latin1');
}

function arfOf(buf: Buffer) {
  return parseArf(parseMime(buf));
}

const BASE = ['Feedback-Type: abuse', 'User-Agent: SomeISP-FBL/2.1', 'Version: 1'];

interface Case {
  name: string;
  msg: Buffer;
  type: string;
  recipients: Array<[string | null, boolean]>;
  check?: (r: NonNullable<ReturnType<typeof parseArf>>, tt: typeof t) => void;
}

const cases: Case[] = [
  {
    name: 'Version 0.1 with Received-Date',
    msg: arf({
      fields: ['Feedback-Type: abuse', 'User-Agent: Yahoo!-Mail-Feedback/1.0', 'Version: 0.1', 'Received-Date: Tue, 2 Jan 2024 10:00:05 PST', 'Original-Rcpt-To: alice@isp.example'],
    }),
    type: 'abuse',
    recipients: [['alice@isp.example', false]],
    check: (r, tt) => {
      tt.equal(r.version, '0.1');
      tt.equal(r.arrivalDate, 'Tue, 2 Jan 2024 10:00:05 PST');
    },
  },
  {
    name: 'Version 1 with Arrival-Date, Source-IP, Reported-Domain',
    msg: arf({
      fields: [...BASE, 'Arrival-Date: Tue, 2 Jan 2024 10:00:05 +0000', 'Source-IP: [192.0.2.9]', 'Reported-Domain: sender.example', 'Original-Mail-From: <bounces@sender.example>', 'Original-Rcpt-To: <alice@isp.example>'],
    }),
    type: 'abuse',
    recipients: [['alice@isp.example', false]],
    check: (r, tt) => {
      tt.equal(r.version, '1');
      tt.equal(r.arrivalDate, 'Tue, 2 Jan 2024 10:00:05 +0000');
      tt.equal(r.sourceIp, '192.0.2.9');
      tt.equal(r.reportedDomain, 'sender.example');
      tt.equal(r.userAgent, 'SomeISP-FBL/2.1');
      tt.equal(r.originalMailFrom, 'bounces@sender.example');
    },
  },
  { name: 'no Original-Rcpt-To: the original To', msg: arf({ fields: BASE }), type: 'abuse', recipients: [['alice@isp.example', false]] },
  {
    name: 'several Original-Rcpt-To, in order, with an address-type prefix',
    msg: arf({ fields: [...BASE, 'Original-Rcpt-To: rfc822; bob@isp.example', 'Original-Rcpt-To: <carol@other.example>', 'Original-Rcpt-To: bob@isp.example'] }),
    type: 'abuse',
    recipients: [
      ['bob@isp.example', false],
      ['carol@other.example', false],
    ],
  },
  {
    name: 'redacted@ with the original To redacted too',
    msg: arf({ fields: [...BASE, 'Original-Rcpt-To: redacted@isp.example'], original: ORIGINAL.replace('To: alice@isp.example', 'To: redacted@isp.example') }),
    type: 'abuse',
    recipients: [[null, true]],
  },
  {
    name: '[redacted] with no original',
    msg: arf({ fields: [...BASE, 'Original-Rcpt-To: [redacted]'], original: null }),
    type: 'abuse',
    recipients: [[null, true]],
  },
  {
    name: 'hashed local part (RFC 6590) and hashed To',
    msg: arf({
      fields: [...BASE, 'Original-Rcpt-To: 5f4dcc3b5aa765d61d8327deb882cf99@isp.example'],
      original: ORIGINAL.replace('To: alice@isp.example', 'To: <5f4dcc3b5aa765d61d8327deb882cf99@isp.example>'),
    }),
    type: 'abuse',
    recipients: [[null, true]],
  },
  {
    name: 'base64-hashed local part',
    msg: arf({ fields: [...BASE, 'Original-Rcpt-To: Xr4Kq9Zb2LmT7wPvN3sYhQ@isp.example'], original: null }),
    type: 'abuse',
    recipients: [[null, true]],
  },
  {
    name: 'redacted field, original To of the same domain recovers it',
    msg: arf({ fields: [...BASE, 'Original-Rcpt-To: xxxxxx@isp.example'] }),
    type: 'abuse',
    recipients: [['alice@isp.example', true]],
  },
  {
    name: 'redacted field, original To of another domain (a list) is not taken',
    msg: arf({ fields: [...BASE, 'Original-Rcpt-To: redacted@isp.example'], original: ORIGINAL.replace('To: alice@isp.example', 'To: list@lists.example') }),
    type: 'abuse',
    recipients: [[null, true]],
  },
  {
    name: 'Redacted-Address with the domain cut off: the original To',
    msg: arf({ fields: [...BASE, 'Redacted-Address: redacted@'] }),
    type: 'abuse',
    recipients: [['alice@isp.example', true]],
  },
  {
    name: 'To with no address (undisclosed)',
    msg: arf({ fields: BASE, original: ORIGINAL.replace('To: alice@isp.example', 'To: "undisclosed"') }),
    type: 'abuse',
    recipients: [[null, true]],
  },
  {
    name: 'mbox >From line before the original headers',
    msg: arf({ fields: BASE, original: '>From bounces@sender.example Tue Jan  2 10:00:00 2024\n' + ORIGINAL }),
    type: 'abuse',
    recipients: [['alice@isp.example', false]],
    check: (r, tt) => tt.equal(r.original?.get('message-id'), '<m1@sender.example>'),
  },
  {
    name: 'folded report fields and a folded To',
    msg: arf({
      fields: ['Feedback-Type:', '  abuse', 'User-Agent: Folding/1.0', 'Version: 1', 'Original-Rcpt-To:', '\t<dave@isp.example>'],
      original: ORIGINAL.replace('To: alice@isp.example', 'To: "Dave D."\n  <dave@isp.example>'),
    }),
    type: 'abuse',
    recipients: [['dave@isp.example', false]],
  },
  {
    name: 'text/rfc822-headers original',
    msg: arf({ fields: ['Feedback-Type: auth-failure', 'Version: 1', 'User-Agent: OpenDMARC/1.4', 'Auth-Failure: dmarc'], original: ORIGINAL.split('\n\n')[0], originalType: 'text/rfc822-headers' }),
    type: 'auth-failure',
    recipients: [['alice@isp.example', false]],
    check: (r, tt) => {
      tt.equal(r.authFailure, 'dmarc');
      tt.equal(r.original?.get('subject'), 'Offers');
    },
  },
  {
    name: 'original attached as text/plain (an .eml)',
    msg: arf({ fields: [...BASE, 'Original-Rcpt-To: alice@isp.example'], originalType: 'text/plain; name="original.eml"' }),
    type: 'abuse',
    recipients: [['alice@isp.example', false]],
    check: (r, tt) => tt.equal(r.original?.get('message-id'), '<m1@sender.example>'),
  },
  {
    name: 'CRLF line endings',
    msg: arf({ fields: [...BASE, 'Original-Rcpt-To: alice@isp.example'], crlf: true }),
    type: 'abuse',
    recipients: [['alice@isp.example', false]],
  },
  {
    name: 'opt-out with Removal-Recipient',
    msg: arf({ fields: ['Feedback-Type: opt-out', 'User-Agent: X/1', 'Version: 1', 'Original-Rcpt-To: alice@isp.example', 'Removal-Recipient: alice+news@isp.example'] }),
    type: 'opt-out',
    recipients: [['alice+news@isp.example', false]],
  },
  {
    name: 'Feedback-Type with odd case and a comment',
    msg: arf({ fields: ['Feedback-Type: Abuse (user clicked spam)', 'User-Agent: X/1', 'Version: 1'] }),
    type: 'abuse',
    recipients: [['alice@isp.example', false]],
  },
  {
    name: 'legacy miscategorized is not-spam',
    msg: arf({ fields: ['Feedback-Type: miscategorized', 'User-Agent: X/1', 'Version: 0.1'] }),
    type: 'not-spam',
    recipients: [['alice@isp.example', false]],
  },
  {
    name: 'no Feedback-Type at all: abuse',
    msg: arf({ fields: ['User-Agent: X/1', 'Version: 1', 'Original-Rcpt-To: alice@isp.example'] }),
    type: 'abuse',
    recipients: [['alice@isp.example', false]],
  },
];

for (const type of ['abuse', 'fraud', 'virus', 'other', 'not-spam', 'opt-out', 'auth-failure']) {
  cases.push({
    name: `feedback type ${type}`,
    msg: arf({ fields: [`Feedback-Type: ${type}`, 'User-Agent: X/1', 'Version: 1', 'Original-Rcpt-To: erin@isp.example'] }),
    type,
    recipients: [['erin@isp.example', false]],
  });
}

t.test('dialects', async (t) => {
  for (const c of cases) {
    t.test(c.name, async (tt) => {
      const r = arfOf(c.msg);
      if (!r) {
        tt.fail('not recognised as a feedback report');
        return;
      }
      tt.equal(r.feedbackType, c.type, 'feedback type');
      tt.same(
        r.recipients.map((x) => [x.address, x.redacted]),
        c.recipients,
        'recipients',
      );
      c.check?.(r, tt);
      const rep = parseMessage(c.msg);
      tt.equal(rep.kind, 'complaint');
      tt.same(
        rep.recipients.map((x) => [x.address, x.feedbackType, x.reason]),
        c.recipients.map(([a]) => [a, c.type, 'feedback']),
      );
    });
  }
});

t.test('original headers inside the feedback part, after the fields', async (t) => {
  const msg = arf({ fields: [...BASE, 'Message-ID: <report-field@isp.example>', 'Original-Rcpt-To: judy@isp.example', '', ORIGINAL], original: null });
  const r = arfOf(msg);
  t.same(r?.recipients, [{ address: 'judy@isp.example', redacted: false }]);
  t.equal(r?.original?.get('message-id'), '<m1@sender.example>');
  t.equal(r?.fields?.get('to'), undefined, "the original's fields are not report fields");
});

t.test('Microsoft JMRP: multipart/mixed, recipient in X-HmXmrOriginalRecipient', async (t) => {
  const msg = [
    'From: staff@hotmail.com',
    'To: fbl@gate.example',
    'Subject: complaint about message from 192.0.2.9',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="jm"',
    '',
    '--jm',
    'Content-Type: message/rfc822',
    'Content-Disposition: inline',
    '',
    'X-HmXmrOriginalRecipient: <frank@outlook.example>',
    'X-Reporter-IP: 198.51.100.1',
    ORIGINAL.replace('To: alice@isp.example', 'To: frank@outlook.example'),
    '--jm--',
    '',
  ].join('\n');
  const r = arfOf(Buffer.from(msg));
  t.equal(r?.dialect, 'jmrp');
  t.equal(r?.feedbackType, 'abuse');
  t.same(r?.recipients, [{ address: 'frank@outlook.example', redacted: false }]);
  t.equal(r?.sourceIp, '192.0.2.9');
  // a hashed JMRP recipient is redacted, not suppressed
  const hashed = msg.replace('<frank@outlook.example>', '<0123456789abcdef0123456789abcdef@outlook.example>').replace('To: frank@outlook.example', 'To: redacted@outlook.example');
  t.same(arfOf(Buffer.from(hashed))?.recipients, [{ address: null, redacted: true, reported: '0123456789abcdef0123456789abcdef@outlook.example' }]);
});

t.test('complaint-about-message subject with the original attached (JMRP-style relays)', async (t) => {
  const msg = [
    'From: complaints@relay.example',
    'To: fbl@gate.example',
    'Subject: complaint about message from 192.0.2.77',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="jm"',
    '',
    '--jm',
    'Content-Type: message/rfc822',
    '',
    ORIGINAL,
    '--jm--',
    '',
  ].join('\n');
  const r = arfOf(Buffer.from(msg));
  t.equal(r?.dialect, 'jmrp');
  t.same(r?.recipients, [{ address: 'alice@isp.example', redacted: false }]);
  t.equal(r?.sourceIp, '192.0.2.77');
  const human = msg.replace('complaint about message from 192.0.2.77', 'Complaint about message from your customer');
  t.equal(arfOf(Buffer.from(human)), null, 'a person forwarding a message is not a JMRP report');
});

t.test('inline report quoted in a forward', async (t) => {
  const quoted = ['Feedback-Type: fraud', 'User-Agent: X/1', 'Version: 1', 'Original-Rcpt-To: leo@isp.example', '', ...ORIGINAL.split('\n')]
    .map((l) => '> ' + l)
    .join('\n');
  const msg = ['From: someone@isp.example', 'To: fbl@gate.example', 'Subject: Fwd: report', '', 'See below.', '', quoted].join('\n');
  const r = arfOf(Buffer.from(msg));
  t.equal(r?.feedbackType, 'fraud');
  t.same(r?.recipients, [{ address: 'leo@isp.example', redacted: false }]);
  t.equal(r?.original?.get('subject'), 'Offers');
});

const ISP_REPORT = arf({ fields: [...BASE, 'Original-Rcpt-To: grace@isp.example', 'Source-IP: 192.0.2.9'] }).toString('latin1');

t.test('relayed: the ISP report forwarded as an attachment', async (t) => {
  const msg = [
    'From: relay@fbl-relay.example',
    'To: fbl@gate.example',
    'Subject: Fwd: Abuse report',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="outer"',
    '',
    '--outer',
    'Content-Type: text/plain',
    '',
    'Relayed for you.',
    '--outer',
    'Content-Type: message/rfc822',
    '',
    ISP_REPORT,
    '--outer--',
    '',
  ].join('\n');
  const r = arfOf(Buffer.from(msg, 'latin1'));
  t.equal(r?.feedbackType, 'abuse');
  t.same(r?.recipients, [{ address: 'grace@isp.example', redacted: false }]);
  t.equal(r?.original?.get('message-id'), '<m1@sender.example>');
});

t.test("relayed: a relay's own ARF whose original is the ISP's report", async (t) => {
  const b = 'relay';
  const msg = [
    'From: fbl@relay.example',
    'To: fbl@gate.example',
    'Subject: FBL',
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=feedback-report; boundary="${b}"`,
    '',
    `--${b}`,
    'Content-Type: message/feedback-report',
    '',
    'Feedback-Type: abuse',
    'User-Agent: RelayFBL/1.0',
    'Version: 1',
    `--${b}`,
    'Content-Type: message/rfc822',
    '',
    ISP_REPORT,
    `--${b}--`,
    '',
  ].join('\n');
  const r = arfOf(Buffer.from(msg, 'latin1'));
  t.equal(r?.userAgent, 'RelayFBL/1.0');
  t.equal(r?.sourceIp, '192.0.2.9', 'filled from the inner report');
  t.same(r?.recipients, [{ address: 'grace@isp.example', redacted: false }]);
  t.equal(r?.original?.get('message-id'), '<m1@sender.example>', 'the original is the inner one');
});

t.test('inline: report fields flattened into a text/plain message', async (t) => {
  const msg = [
    'From: fbl@smallisp.example',
    'To: fbl@gate.example',
    'Subject: Spam complaint',
    'Content-Type: text/plain; charset=us-ascii',
    '',
    'A user of ours marked your message as spam.',
    '',
    'Feedback-Type: abuse',
    'User-Agent: SmallISP/0.9',
    'Version: 1',
    'Original-Rcpt-To: heidi@smallisp.example',
    '',
    '--- original message headers ---',
    ORIGINAL,
  ].join('\n');
  const r = arfOf(Buffer.from(msg));
  t.equal(r?.dialect, 'inline');
  t.same(r?.recipients, [{ address: 'heidi@smallisp.example', redacted: false }]);
  t.equal(r?.original?.get('message-id'), '<m1@sender.example>');
  t.equal(parseMessage(Buffer.from(msg)).kind, 'complaint');
});

t.test('feedback part mislabelled text/plain, original next to it', async (t) => {
  const msg = arf({ fields: [...BASE, 'Original-Rcpt-To: ken@isp.example'] }).toString('latin1').replace('Content-Type: message/feedback-report', 'Content-Type: text/plain');
  const r = arfOf(Buffer.from(msg, 'latin1'));
  t.equal(r?.dialect, 'inline');
  t.same(r?.recipients, [{ address: 'ken@isp.example', redacted: false }]);
  t.equal(r?.original?.get('message-id'), '<m1@sender.example>');
});

t.test('Apple Mail unsubscribe request: opt-out from the sender', async (t) => {
  const msg = [
    'From: ivan@icloud.example',
    'To: unsubscribe+abc@gate.example',
    'Subject: unsubscribe',
    'X-Apple-Unsubscribe: true',
    'Auto-Submitted: auto-replied',
    '',
    'Apple Mail sent this email to unsubscribe.',
  ].join('\n');
  const r = arfOf(Buffer.from(msg));
  t.equal(r?.feedbackType, 'opt-out');
  t.same(r?.recipients, [{ address: 'ivan@icloud.example', redacted: false }]);
  t.equal(parseMessage(Buffer.from(msg)).kind, 'complaint');
  t.equal(parseMessage(Buffer.from(msg), { mailbox: 'unsubscribe' }).kind, 'unsubscribe');
});

t.test('not feedback reports', async (t) => {
  const prose = ['From: x@y.example', 'To: abuse@gate.example', 'Subject: question', '', 'What does a line like', 'Feedback-Type: abuse', 'mean?'].join('\n');
  t.equal(arfOf(Buffer.from(prose)), null, 'a Feedback-Type line in prose');
  const plain = ['From: x@y.example', 'To: abuse@gate.example', 'Subject: hi', '', 'hello'].join('\n');
  t.equal(arfOf(Buffer.from(plain)), null, 'a plain message');
  const dsn = [
    'From: MAILER-DAEMON@mx.example',
    'To: bounces@gate.example',
    'Subject: Undelivered Mail Returned to Sender',
    'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=delivery-status; boundary="d"',
    '',
    '--d',
    'Content-Type: message/delivery-status',
    '',
    'Reporting-MTA: dns; mx.example',
    '',
    'Final-Recipient: rfc822; fbl@isp.example',
    'Action: failed',
    'Status: 5.1.1',
    '--d',
    'Content-Type: message/rfc822',
    '',
    ISP_REPORT,
    '--d--',
    '',
  ].join('\n');
  t.equal(arfOf(Buffer.from(dsn, 'latin1')), null, 'a DSN that returns a forwarded report');
  t.not(parseMessage(Buffer.from(dsn, 'latin1')).kind, 'complaint');
});

t.test('report shape of a complaint', async (t) => {
  const r = parseMessage(arf({ fields: [...BASE, 'Source-IP: 192.0.2.9', 'Reported-Domain: sender.example', 'Original-Rcpt-To: alice@isp.example'] }));
  t.same(Object.keys(r), ['kind', 'recipients', 'original', 'reporter', 'attribution', 'phones']);
  t.same(r.recipients, [
    { address: 'alice@isp.example', redacted: false, reason: 'feedback', hard: false, action: null, status: null, replyCode: null, diagnostic: null, feedbackType: 'abuse' },
  ]);
  t.same(Object.keys(r.recipients[0]), ['address', 'redacted', 'reason', 'hard', 'action', 'status', 'replyCode', 'diagnostic', 'feedbackType']);
  t.same(r.original, { messageId: '<m1@sender.example>', from: 'Shop <news@sender.example>', subject: 'Offers', date: 'Tue, 2 Jan 2024 10:00:00 +0000', returnPath: 'bounces@sender.example' });
  t.same(r.reporter, { userAgent: 'SomeISP-FBL/2.1', sourceIp: '192.0.2.9', reportedDomain: 'sender.example' });
  t.same(r.attribution, { account: null, campaign: null, verified: false, via: 'none' });
  t.same(r.phones, []);
});

t.test('parseMessage never throws', async (t) => {
  t.equal(parseMessage(Buffer.alloc(0)).kind, 'unknown');
  t.ok(parseMessage(Buffer.alloc(0)).error);
  const garbage = parseMessage(Buffer.from([0, 1, 2, 255, 254, 10, 10, 3]));
  t.equal(garbage.kind, 'unknown');
  t.ok(garbage.error);
  let deep = 'From: a@b.example\nContent-Type: multipart/mixed; boundary="x0"\n\n';
  for (let i = 0; i < 40; i++) deep += `--x${i}\nContent-Type: multipart/mixed; boundary="x${i + 1}"\n\n`;
  const limited = parseMessage(Buffer.from(deep), { limits: { maxDepth: 10, maxParts: 100 } });
  t.equal(limited.kind, 'unknown');
  t.match(limited.error, /nesting/);
});

// ---------------------------------------------------------------------------------------
// Hashed recipients (RFC 6590): redacted, with the reported form kept for the platform

t.test('hashed recipients: redacted, address null, the reported form in a field of its own', async (t) => {
  const MD5 = '5f4dcc3b5aa765d61d8327deb882cf99';
  const SHA256 = '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08';
  const rows: Array<[string, string, { address: string | null; reported?: string }]> = [
    ['MD5 local part', `Original-Rcpt-To: ${MD5}@isp.example`, { address: null, reported: `${MD5}@isp.example` }],
    ['upper-case hex in angle brackets', `Original-Rcpt-To: <${MD5.toUpperCase()}@isp.example>`, { address: null, reported: `${MD5.toUpperCase()}@isp.example` }],
    ['the whole address hashed (SHA-256)', `Original-Rcpt-To: ${SHA256}`, { address: null, reported: SHA256 }],
    ['the whole address hashed, in brackets', `Original-Rcpt-To: <${MD5}>`, { address: null, reported: MD5 }],
    ['base64 digest local part', 'Original-Rcpt-To: Xr4Kq9Zb2LmT7wPvN3sYhQ@isp.example', { address: null, reported: 'Xr4Kq9Zb2LmT7wPvN3sYhQ@isp.example' }],
    ['a redacted word is no hash: nothing to match', 'Original-Rcpt-To: redacted@isp.example', { address: null }],
    ['a person’s address is no hash', 'Original-Rcpt-To: deadbeef@isp.example', { address: 'deadbeef@isp.example' }],
  ];
  for (const [name, field, want] of rows) {
    const msg = arf({ fields: [...BASE, field], original: ORIGINAL.replace('To: alice@isp.example', 'To: undisclosed-recipients:;') });
    const r = parseMessage(msg);
    t.equal(r.kind, 'complaint', name);
    t.equal(r.recipients.length, 1, name);
    const got = r.recipients[0];
    t.equal(got.address, want.address, `${name}: address`);
    t.equal(got.redacted, want.address === null, `${name}: redacted`);
    t.equal(got.reported, want.reported, `${name}: reported form`);
    if (want.reported) t.same(Object.keys(got).slice(0, 3), ['address', 'redacted', 'reported'], `${name}: field order`);
    else t.notOk('reported' in got, `${name}: no reported field`);
  }
});

t.test('hashed recipients: the same hash twice is one recipient; the original To of the same domain recovers the address', async (t) => {
  const MD5 = '5f4dcc3b5aa765d61d8327deb882cf99';
  const twice = parseMessage(arf({ fields: [...BASE, `Original-Rcpt-To: ${MD5}@isp.example`, `Original-Rcpt-To: ${MD5}@isp.example`], original: null }));
  t.same(twice.recipients.map((r) => [r.address, r.reported]), [[null, `${MD5}@isp.example`]]);
  const recovered = parseMessage(arf({ fields: [...BASE, `Original-Rcpt-To: ${MD5}@isp.example`] }));
  t.same(recovered.recipients.map((r) => [r.address, r.redacted, r.reported]), [['alice@isp.example', true, `${MD5}@isp.example`]]);
});

t.test('hashed recipients: a long token recovers the address, the reported form stays', async (t) => {
  const codec = createTokenCodec({ current: 'a', keys: { a: 'a secret of thirty-two bytes, ok' } });
  const token = codec.mintLong({ account: 'acme', campaign: 'c1', recipient: 'carol@isp.example' });
  const MD5 = '0123456789abcdef0123456789abcdef';
  const original = ORIGINAL.replace('To: alice@isp.example', `To: ${MD5}@isp.example\nX-Abuse-Token: ${token}`);
  const r = parseMessage(arf({ fields: [...BASE, `Original-Rcpt-To: ${MD5}@isp.example`], original }), { codec });
  t.equal(r.attribution.via, 'token');
  t.same(r.recipients.map((x) => [x.address, x.redacted, x.reported]), [['carol@isp.example', true, `${MD5}@isp.example`]]);
});
