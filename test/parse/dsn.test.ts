// Hand-made bounces and autoreplies through parseMime + parseBounce: the shapes the
// corpus has few of (status only in the text, no Final-Recipient, mixed actions, line ends).
import t, { type Test } from 'tap';
import { parseMime } from '../../src/parse/mime.js';
import { loadBounceRules, parseBounce, type BounceResult } from '../../src/parse/bounce/index.js';

const rules = loadBounceRules();

function dsn(recipientBlocks: string[], opts: { notice?: string; subject?: string } = {}): string {
  return [
    'From: Mail Delivery System <MAILER-DAEMON@mx.example.net>',
    'To: sender@example.org',
    `Subject: ${opts.subject ?? 'Undelivered Mail Returned to Sender'}`,
    'Auto-Submitted: auto-replied',
    'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=delivery-status; boundary="b1"',
    '',
    '--b1',
    'Content-Type: text/plain',
    '',
    opts.notice ?? 'This is the mail system at host mx.example.net.',
    '',
    '--b1',
    'Content-Type: message/delivery-status',
    '',
    'Reporting-MTA: dns; mx.example.net',
    '',
    recipientBlocks.join('\n\n'),
    '',
    '--b1',
    'Content-Type: text/rfc822-headers',
    '',
    'From: sender@example.org',
    'To: someone@example.com',
    'Subject: hello',
    'Message-ID: <m1@example.org>',
    '',
    '--b1--',
    '',
  ].join('\n');
}

function parse(src: string): BounceResult | null {
  return parseBounce(parseMime(Buffer.from(src, 'latin1')), rules);
}

interface Expect {
  kind: BounceResult['kind'] | null;
  recipients?: Array<Partial<{ address: string | null; reason: string; hard: boolean; status: string | null; action: string | null }>>;
}

const cases: Array<[string, string, Expect]> = [
  [
    'one failed recipient',
    dsn(['Final-Recipient: rfc822; User@Example.COM\nAction: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 <User@Example.COM>... User unknown']),
    { kind: 'bounce', recipients: [{ address: 'User@example.com', reason: 'userunknown', hard: true, status: '5.1.1', action: 'failed' }] },
  ],
  [
    'status only in the diagnostic text',
    dsn(['Final-Recipient: rfc822; a@example.com\nAction: failed\nDiagnostic-Code: smtp; 552 5.2.2 Mailbox full']),
    { kind: 'bounce', recipients: [{ address: 'a@example.com', reason: 'mailboxfull', hard: false, status: '5.2.2' }] },
  ],
  [
    'generic Status field made precise by the diagnostic',
    dsn(['Final-Recipient: rfc822; a@example.com\nAction: failed\nStatus: 5.0.0\nDiagnostic-Code: smtp; 550 5.1.1 no such user']),
    { kind: 'bounce', recipients: [{ status: '5.1.1', reason: 'userunknown', hard: true }] },
  ],
  [
    'several recipients, order kept, duplicates dropped',
    dsn([
      'Final-Recipient: rfc822; <b@example.com>\nAction: failed\nStatus: 5.1.1',
      'Final-Recipient: rfc822; a@example.com\nAction: failed\nStatus: 5.2.2',
      'Final-Recipient: rfc822; b@example.com\nAction: failed\nStatus: 5.1.1',
    ]),
    { kind: 'bounce', recipients: [{ address: 'b@example.com', reason: 'userunknown' }, { address: 'a@example.com', reason: 'mailboxfull' }] },
  ],
  [
    'blocks without blank lines between them',
    dsn(['Original-Recipient: rfc822;x@example.com\nFinal-Recipient: rfc822;x@example.com\nAction: failed\nStatus: 5.1.1\nOriginal-Recipient: rfc822;y@example.com\nFinal-Recipient: rfc822;y@example.com\nAction: failed\nStatus: 5.7.1\nDiagnostic-Code: smtp; 554 5.7.1 Relay access denied']),
    { kind: 'bounce', recipients: [{ address: 'x@example.com', reason: 'userunknown' }, { address: 'y@example.com', reason: 'norelaying', hard: false }] },
  ],
  [
    'delayed only: a notice, not a bounce',
    dsn(['Final-Recipient: rfc822; a@example.com\nAction: delayed\nStatus: 4.4.1\nDiagnostic-Code: smtp; 451 4.4.1 Connection timed out']),
    { kind: 'delivery-notice', recipients: [{ address: 'a@example.com', action: 'delayed', hard: false, status: '4.4.1' }] },
  ],
  [
    'delayed and failed in one report',
    dsn([
      'Final-Recipient: rfc822; a@example.com\nAction: delayed\nStatus: 4.0.0',
      'Final-Recipient: rfc822; b@example.com\nAction: failed\nStatus: 5.1.1',
    ]),
    { kind: 'bounce', recipients: [{ address: 'a@example.com', action: 'delayed', reason: 'expired', hard: false }, { address: 'b@example.com', action: 'failed', hard: true }] },
  ],
  [
    'delivered and relayed are notices',
    dsn(['Final-Recipient: rfc822; a@example.com\nAction: delivered\nStatus: 2.0.0', 'Final-Recipient: rfc822; b@example.com\nAction: relayed\nStatus: 2.0.0']),
    { kind: 'delivery-notice', recipients: [{ reason: 'delivered', hard: false }, { reason: 'delivered', hard: false }] },
  ],
  [
    '4xx temporary failure vs 5xx permanent for notaccept',
    dsn([
      'Final-Recipient: rfc822; a@example.com\nAction: failed\nStatus: 4.3.2\nDiagnostic-Code: smtp; 421 4.3.2 This domain does not accept mail',
      'Final-Recipient: rfc822; b@example.net\nAction: failed\nStatus: 5.1.10\nDiagnostic-Code: smtp; 556 5.1.10 Recipient address has null MX',
    ]),
    { kind: 'bounce', recipients: [{ reason: 'notaccept', hard: false }, { reason: 'notaccept', hard: true }] },
  ],
  [
    'no Final-Recipient: Original-Recipient is used',
    dsn(['Original-Recipient: rfc822; orig@example.com\nAction: failed\nStatus: 5.1.1']),
    { kind: 'bounce', recipients: [{ address: 'orig@example.com', reason: 'userunknown' }] },
  ],
  [
    'no recipient field at all: the address comes from the notice',
    dsn(['Action: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 User unknown'], {
      notice: 'I could not deliver your message to the following recipient:\n\n<lost@example.com>: host mx.example.com said: 550 5.1.1 User unknown',
    }),
    { kind: 'bounce', recipients: [{ address: 'lost@example.com', reason: 'userunknown' }] },
  ],
  [
    'sender-side rejection never counts against the recipient',
    dsn(['Final-Recipient: rfc822; a@example.com\nAction: failed\nStatus: 5.7.1\nDiagnostic-Code: smtp; 554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org']),
    { kind: 'bounce', recipients: [{ reason: 'blocked', hard: false }] },
  ],
  [
    'qmail-style notice (no report part), status in "(#5.1.1)"',
    [
      'From: MAILER-DAEMON@mx.example.net',
      'To: sender@example.org',
      'Subject: failure notice',
      '',
      'Hi. This is the qmail-send program at mx.example.net.',
      "I'm afraid I wasn't able to deliver your message to the following addresses.",
      "This is a permanent error; I've given up. Sorry it didn't work out.",
      '',
      '<gone@example.com>:',
      'Sorry, no mailbox here by that name. (#5.1.1)',
      '',
      '<full@example.com>:',
      '192.0.2.1 does not like recipient.',
      'Remote host said: 552 5.2.2 Mailbox full',
      '',
      '--- Below this line is a copy of the message.',
      '',
      'From: sender@example.org',
      'To: gone@example.com, full@example.com',
      '',
    ].join('\n'),
    { kind: 'bounce', recipients: [{ address: 'gone@example.com', reason: 'userunknown', hard: true, status: '5.1.1' }, { address: 'full@example.com', reason: 'mailboxfull', hard: false, status: '5.2.2' }] },
  ],
  [
    'Exim-style notice with an indented recipient',
    [
      'From: Mail Delivery System <Mailer-Daemon@mx.example.net>',
      'To: sender@example.org',
      'Subject: Mail delivery failed: returning message to sender',
      'X-Failed-Recipients: nobody@example.com',
      '',
      'This message was created automatically by mail delivery software.',
      '',
      'A message that you sent could not be delivered to one or more of its',
      'recipients. This is a permanent error. The following address(es) failed:',
      '',
      '  nobody@example.com',
      '    host mx.example.com [192.0.2.2]',
      '    SMTP error from remote mail server after RCPT TO:<nobody@example.com>:',
      '    550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown in local recipient table',
      '',
      '------ This is a copy of the message, including all the headers. ------',
      '',
      'From: sender@example.org',
      '',
    ].join('\n'),
    { kind: 'bounce', recipients: [{ address: 'nobody@example.com', reason: 'userunknown', hard: true, status: '5.1.1' }] },
  ],
  [
    'RFC 3834 autoreply',
    'From: Away Person <away@example.com>\nTo: sender@example.org\nSubject: Out of Office: hello\nAuto-Submitted: auto-replied\n\nI am away until Monday.\n',
    { kind: 'autoreply', recipients: [{ address: 'away@example.com', reason: 'vacation', hard: false, status: null }] },
  ],
  [
    'vacation subject without RFC 3834 headers',
    'From: away@example.com\nTo: sender@example.org\nSubject: Automatic reply: hello\nX-Auto-Response-Suppress: All\n\nAway.\n',
    { kind: 'autoreply', recipients: [{ reason: 'vacation' }] },
  ],
  [
    'an ordinary message is none of these',
    'From: friend@example.com\nTo: me@example.org\nSubject: lunch?\n\nAre you free at noon? Write to lunch@example.com\n',
    { kind: null },
  ],
  [
    'a message forwarding an attachment is not a bounce',
    'From: friend@example.com\nTo: me@example.org\nSubject: see attached\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="x"\n\n--x\nContent-Type: text/plain\n\nhave a look\n\n--x\nContent-Type: message/rfc822\n\nFrom: a@example.net\nTo: b@example.com\nSubject: hi\n\nhi\n--x--\n',
    { kind: null },
  ],
];

function check(t: Test, name: string, src: string, want: Expect): void {
  const got = parse(src);
  if (want.kind === null) {
    t.equal(got, null, name);
    return;
  }
  t.equal(got?.kind, want.kind, `${name}: kind`);
  if (want.recipients) {
    t.equal(got?.recipients.length, want.recipients.length, `${name}: recipient count`);
    want.recipients.forEach((w, i) => t.match(got?.recipients[i], w, `${name}: recipient ${i + 1}`));
  }
}

t.test('hand-made bounces, LF', async (t) => {
  for (const [name, src, want] of cases) check(t, name, src, want);
});

t.test('the same with CRLF and with CR line ends', async (t) => {
  for (const [name, src, want] of cases) {
    check(t, `${name} (CRLF)`, src.replace(/\n/g, '\r\n'), want);
    check(t, `${name} (CR)`, src.replace(/\n/g, '\r'), want);
  }
});

t.test('the original message headers are returned', async (t) => {
  const got = parse(cases[0][1]);
  t.equal(got?.original?.get('message-id'), '<m1@example.org>');
});

t.test('ARF feedback reports are left to their own parser', async (t) => {
  const arf = 'From: fbl@isp.example\nTo: fbl@example.org\nSubject: complaint\nMIME-Version: 1.0\nContent-Type: multipart/report; report-type=feedback-report; boundary="f"\n\n--f\nContent-Type: text/plain\n\nA complaint.\n\n--f\nContent-Type: message/feedback-report\n\nFeedback-Type: abuse\nUser-Agent: x/1\nVersion: 1\n\n--f--\n';
  t.equal(parse(arf), null);
});
