/** Builders for the messages that tests send: ARF reports and DSNs, made in the test. */

export interface ArfOptions {
  feedbackType?: string;
  /** Original-Rcpt-To value(s) in the report; omitted when empty. */
  rcptTo?: string[];
  /** Headers of the original message (the complained-about mail). */
  original: Record<string, string>;
  originalBody?: string;
  userAgent?: string;
  sourceIp?: string;
  from?: string;
}

export function arfReport(o: ArfOptions): string {
  const b = 'arf-boundary-' + Math.random().toString(36).slice(2);
  const fields = [
    `Feedback-Type: ${o.feedbackType ?? 'abuse'}`,
    `User-Agent: ${o.userAgent ?? 'ExampleFBL/1.0'}`,
    'Version: 1',
    ...(o.rcptTo ?? []).map((r) => `Original-Rcpt-To: ${r}`),
    'Arrival-Date: Thu, 8 Mar 2026 14:00:00 +0000',
    `Source-IP: ${o.sourceIp ?? '192.0.2.1'}`,
  ];
  const orig = Object.entries(o.original).map(([k, v]) => `${k}: ${v}`).join('\n');
  return [
    `From: ${o.from ?? 'fbl@isp.example'}`,
    'To: fbl@localhost',
    'Subject: FW: complaint',
    `Message-ID: <${Math.random().toString(36).slice(2)}@isp.example>`,
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=feedback-report; boundary="${b}"`,
    '',
    `--${b}`,
    'Content-Type: text/plain; charset=us-ascii',
    '',
    'This is an email abuse report for an email message received from IP 192.0.2.1.',
    '',
    `--${b}`,
    'Content-Type: message/feedback-report',
    '',
    fields.join('\n'),
    '',
    `--${b}`,
    'Content-Type: message/rfc822',
    'Content-Disposition: inline',
    '',
    orig,
    '',
    o.originalBody ?? 'Buy now!',
    '',
    `--${b}--`,
    '',
  ].join('\n');
}

export interface DsnOptions {
  recipient: string;
  /** More failed recipients, each with its own per-recipient block (same status). */
  also?: string[];
  status: string;
  action?: string;
  diagnostic?: string;
  /** Message-ID of the returned message (the same bounce twice shares it). */
  messageId?: string;
  /** Extra header lines of the returned message. */
  originalHeaders?: Record<string, string>;
}

/** An RFC 3464 delivery status notification for one recipient (and any in `also`). */
export function dsn(o: DsnOptions): string {
  const b = 'dsn-' + Math.random().toString(36).slice(2);
  const orig = { From: 'news@customer.example', To: o.recipient, Subject: 'Our news', 'Message-ID': `<${o.messageId ?? Math.random().toString(36).slice(2)}@mta.example>`, ...o.originalHeaders };
  return [
    'From: MAILER-DAEMON@mx.receiver.example',
    'To: bounces@localhost',
    'Subject: Undelivered Mail Returned to Sender',
    `Message-ID: <${Math.random().toString(36).slice(2)}@mx.receiver.example>`,
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=delivery-status; boundary="${b}"`,
    '',
    `--${b}`,
    'Content-Type: text/plain',
    '',
    'I could not deliver your message.',
    '',
    `--${b}`,
    'Content-Type: message/delivery-status',
    '',
    'Reporting-MTA: dns; mx.receiver.example',
    '',
    ...[o.recipient, ...(o.also ?? [])].flatMap((r) => [
      `Final-Recipient: rfc822; ${r}`,
      `Action: ${o.action ?? 'failed'}`,
      `Status: ${o.status}`,
      `Diagnostic-Code: smtp; ${o.diagnostic ?? (o.status.startsWith('5') ? '550 5.1.1 User unknown' : '452 4.2.2 Mailbox full')}`,
      '',
    ]),
    `--${b}`,
    'Content-Type: text/rfc822-headers',
    '',
    Object.entries(orig).map(([k, v]) => `${k}: ${v}`).join('\n'),
    '',
    `--${b}--`,
    '',
  ].join('\n');
}

/** A complaint about a token-stamped message, as the feedback loops send them. */
export function tokenComplaint(
  codec: { mintLong(c: { account: string; campaign: string; recipient: string }): string },
  account: string,
  campaign: string,
  recipient: string,
  messageId = `${account}.${recipient}@mta.example`,
): string {
  return arfReport({
    rcptTo: [recipient],
    original: {
      From: 'news@customer.example',
      To: recipient,
      Subject: 'Our spring sale',
      'Message-ID': `<${messageId}>`,
      'X-Abuse-Token': codec.mintLong({ account, campaign, recipient }),
    },
  });
}

/**
 * A person's mail to abuse@: their words, then the offending message attached (as mail
 * clients forward "as attachment"), stamped with `token` when given.
 */
export function abuseMail(o: { token?: string; messageId?: string; subject?: string; body?: string } = {}): string {
  return [
    'From: Annoyed Person <person@recipient.example>',
    'To: abuse@localhost',
    `Subject: ${o.subject ?? 'Spam from your customer'}`,
    ...(o.messageId ? [`Message-ID: <${o.messageId}>`] : []),
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="b1"',
    '',
    '--b1',
    'Content-Type: text/plain',
    '',
    o.body ?? 'I never signed up for this. Please make it stop.',
    '--b1',
    'Content-Type: message/rfc822',
    '',
    'Received: from mta1.send.example (mta1.send.example [192.0.2.10]) by mx.recipient.example',
    'From: Deals <deals@customer.example>',
    'To: person@recipient.example',
    'Subject: Amazing deals',
    'Message-ID: <orig-1@send.example>',
    ...(o.token ? [`X-Abuse-Token: ${o.token}`] : []),
    '',
    'Buy things.',
    '--b1--',
    '',
  ].join('\n');
}
