// abuse@ mail: where the offending message is (attached, forwarded inline by the common
// clients, pasted headers), its token, the mobile numbers of SMS complaints, and what
// investigation needs (phishing language, origin domains, token state).
import { createHash } from 'node:crypto';
import t from 'tap';
import { htmlToText } from '../../src/parse/html.js';
import { originDomains } from '../../src/parse/abuse/domains.js';
import { inlineOriginal } from '../../src/parse/abuse/forward.js';
import { phishingLanguage } from '../../src/parse/abuse/phishing.js';
import { aboutSms, mobileNumbers } from '../../src/parse/abuse/phones.js';
import { parseMessage, type ParseOptions } from '../../src/parse/index.js';
import { parseHeaderBlock } from '../../src/parse/mime.js';
import { createTokenCodec } from '../../src/token/token.js';

const codec = createTokenCodec({ current: 'b', keys: { b: 'the current secret, long enough' } });
const LONG = codec.mintLong({ account: 'acme', campaign: 'spring-24', recipient: 'victim@mail.example' });
const SHORT = codec.mintShort({ account: 'acme', campaign: 'spring-24' });
const ACME = { account: 'acme', campaign: 'spring-24', verified: true, via: 'token' };

function flip(token: string): string {
  const i = token.length - 3;
  return token.slice(0, i) + (token[i] === 'A' ? 'B' : 'A') + token.slice(i + 1);
}

const REPORTER = ['From: Victim <victim@mail.example>', 'To: abuse@gate.example', 'Date: Wed, 3 Jan 2024 09:00:00 +0000', 'MIME-Version: 1.0'];

function mail(subject: string, contentType: string, body: string, extra: string[] = []): Buffer {
  return Buffer.from([...REPORTER, `Subject: ${subject}`, `Content-Type: ${contentType}`, ...extra, '', body, ''].join('\n'), 'utf8');
}
const plain = (subject: string, body: string): Buffer => mail(subject, 'text/plain; charset=utf-8', body);
const html = (subject: string, body: string): Buffer => mail(subject, 'text/html; charset=utf-8', body);

function parse(raw: Buffer, opts: ParseOptions = {}) {
  return parseMessage(raw, { codec, mailbox: 'abuse', ...opts });
}

const LINK = `https://u.sender.example/u/${LONG}`;

// ---------------------------------------------------------------------------------------
// Inline forwards, by client

interface Fwd {
  name: string;
  raw: Buffer;
  subject: string;
  /** The token is in the forwarded body. */
  token: boolean;
}

const forwards: Fwd[] = [
  {
    name: 'Gmail, plain text',
    raw: plain(
      'Fwd: Spring offers',
      `Please make them stop.\n\n---------- Forwarded message ---------\nFrom: Shop <news@sender.example>\nDate: Tue, Jan 2, 2024 at 10:00 AM\nSubject: Spring offers\nTo: <victim@mail.example>\n\n\nBig savings!\nUnsubscribe: ${LINK}\n`,
    ),
    subject: 'Spring offers',
    token: true,
  },
  {
    name: 'Gmail, HTML only',
    raw: html(
      'Fwd: Spring offers',
      `<div dir="ltr">Spam again<br><br><div class="gmail_quote"><div dir="ltr" class="gmail_attr">---------- Forwarded message ---------<br>From: <strong class="gmail_sendername" dir="auto">Shop</strong> <span dir="auto">&lt;<a href="mailto:news@sender.example">news@sender.example</a>&gt;</span><br>Date: Tue, Jan 2, 2024 at 10:00 AM<br>Subject: Spring offers<br>To: &lt;<a href="mailto:victim@mail.example">victim@mail.example</a>&gt;<br></div><br><br><p>Big savings!</p><p><a href="${LINK}">Unsubscribe</a></p></div></div>`,
    ),
    subject: 'Spring offers',
    token: true,
  },
  {
    name: 'Outlook, -----Original Message-----',
    raw: plain(
      'FW: Spring offers',
      `Spam.\n\n-----Original Message-----\nFrom: Shop [mailto:news@sender.example] \nSent: Tuesday, January 2, 2024 10:00 AM\nTo: Victim <victim@mail.example>\nSubject: Spring offers\n\nBig savings!\n`,
    ),
    subject: 'Spring offers',
    token: false,
  },
  {
    name: 'Outlook, rule line and From/Sent/To/Subject block',
    raw: plain(
      'FW: Spring offers',
      `I never signed up for this.\n\n________________________________\nFrom: Shop <news@sender.example>\nSent: Tuesday, January 2, 2024 10:00\nTo: Victim <victim@mail.example>;\n another@mail.example\nSubject: Spring offers\n\nBig savings!\n${LINK}\n`,
    ),
    subject: 'Spring offers',
    token: true,
  },
  {
    name: 'Outlook, HTML only',
    raw: html(
      'FW: Spring offers',
      `<html><head><style>p {margin:0}</style></head><body><div class=WordSection1><p class=MsoNormal>Please investigate.<o:p></o:p></p><div><div style='border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0in 0in 0in'><p class=MsoNormal><b>From:</b> Shop &lt;news@sender.example&gt; <br><b>Sent:</b> Tuesday, January 2, 2024 10:00 AM<br><b>To:</b> Victim &lt;victim@mail.example&gt;<br><b>Subject:</b> Spring offers<o:p></o:p></p></div></div><p class=MsoNormal>Big savings! <a href="${LINK}">Unsubscribe</a></p></div></body></html>`,
    ),
    subject: 'Spring offers',
    token: true,
  },
  {
    name: 'Outlook, the block run on one line',
    raw: plain('FW: Spring offers', `Spam!\n\nFrom: Shop <news@sender.example> Sent: Tuesday, January 2, 2024 10:00 AM To: victim@mail.example Subject: Spring offers\n\nBig savings!\n`),
    subject: 'Spring offers',
    token: false,
  },
  {
    name: 'Apple Mail, plain text',
    raw: plain(
      'Fwd: Spring offers',
      `Not again.\n\nBegin forwarded message:\n\nFrom: Shop <news@sender.example>\nSubject: Spring offers\nDate: 2 January 2024 at 10:00:00 GMT\nTo: victim@mail.example\nReply-To: Shop <reply@sender.example>\n\nBig savings!\n${LINK}\n`,
    ),
    subject: 'Spring offers',
    token: true,
  },
  {
    name: 'Apple Mail, HTML with a paragraph per field',
    raw: html(
      'Fwd: Spring offers',
      `<html><body><div>Not again.</div><div><br><blockquote type="cite"><div>Begin forwarded message:</div><br class="Apple-interchange-newline"><div style="margin-top: 0px;"><span><b>From: </b></span><span>Shop &lt;news@sender.example&gt;<br></span></div><div style="margin-top: 0px;"><span><b>Subject: </b></span><span><b>Spring offers</b><br></span></div><div><span><b>Date: </b></span><span>2 January 2024 at 10:00:00 GMT<br></span></div><div><span><b>To: </b></span><span>victim@mail.example<br></span></div><br><div>Big savings!</div></blockquote></div></body></html>`,
    ),
    subject: 'Spring offers',
    token: false,
  },
  {
    name: 'Thunderbird, plain text',
    raw: plain(
      'Fwd: Spring offers',
      `\n\n\n-------- Forwarded Message --------\nSubject: \tSpring offers\nDate: \tTue, 2 Jan 2024 10:00:00 +0000\nFrom: \tShop <news@sender.example>\nTo: \tvictim@mail.example\n\n\n\nBig savings!\n${LINK}\n`,
    ),
    subject: 'Spring offers',
    token: true,
  },
  {
    name: 'Thunderbird, HTML header table',
    raw: html(
      'Fwd: Spring offers',
      `<html><body><p>Spam.</p><div class="moz-forward-container"><br><br>-------- Forwarded Message --------<table class="moz-email-headers-table" cellspacing="0" cellpadding="0" border="0"><tbody><tr><th valign="BASELINE" nowrap="nowrap" align="RIGHT">Subject: </th><td>Spring offers</td></tr><tr><th valign="BASELINE" nowrap="nowrap" align="RIGHT">Date: </th><td>Tue, 2 Jan 2024 10:00:00 +0000</td></tr><tr><th valign="BASELINE" nowrap="nowrap" align="RIGHT">From: </th><td>Shop <a class="moz-txt-link-rfc2396E" href="mailto:news@sender.example">&lt;news@sender.example&gt;</a></td></tr><tr><th valign="BASELINE" nowrap="nowrap" align="RIGHT">To: </th><td><a class="moz-txt-link-abbreviated" href="mailto:victim@mail.example">victim@mail.example</a></td></tr></tbody></table><br><br>Big savings!</div></body></html>`,
    ),
    subject: 'Spring offers',
    token: false,
  },
  {
    name: 'Yahoo',
    raw: plain(
      'Fw: Spring offers',
      `Spam\n\n\n----- Forwarded Message -----\nFrom: Shop <news@sender.example>\nTo: victim@mail.example <victim@mail.example>\nSent: Tuesday, January 2, 2024 at 10:00:00 AM GMT\nSubject: Spring offers\n\nBig savings!\n${LINK}\n`,
    ),
    subject: 'Spring offers',
    token: true,
  },
  {
    name: 'quoted-printable, German Gmail, token wrapped by a soft break',
    raw: mail(
      'WG: Frühlingsangebote',
      'text/plain; charset=UTF-8',
      `Bitte pr=C3=BCfen.\n\n---------- Weitergeleitete Nachricht ---------\nVon: Shop <news@sender.example>\nDate: Di., 2. Jan. 2024 um 10:00 Uhr\nSubject: Fr=C3=BChlingsangebote\nTo: <victim@mail.example>\n\nGro=C3=9Fe Rabatte! Abmelden: ${LINK.slice(0, 60)}=\n${LINK.slice(60)}\n`,
      ['Content-Transfer-Encoding: quoted-printable'],
    ),
    subject: 'Frühlingsangebote',
    token: true,
  },
  {
    name: 'German Outlook labels',
    raw: plain('WG: Angebote', `Spam.\n\n-----Ursprüngliche Nachricht-----\nVon: Shop <news@sender.example>\nGesendet: Dienstag, 2. Januar 2024 10:00\nAn: victim@mail.example\nBetreff: Angebote\n\nRabatte!\n`),
    subject: 'Angebote',
    token: false,
  },
  {
    name: 'French Thunderbird (Message transféré)',
    raw: plain(
      'Tr: Offres',
      `Pourriel.\n\n-------- Message transféré --------\nSujet : \tOffres de printemps\nDate : \tmar. 2 janv. 2024 10:00\nDe : \tShop <news@sender.example>\nPour : \tvictim@mail.example\n\nPromotions !\n`,
    ),
    subject: 'Offres de printemps',
    token: false,
  },
  {
    name: "French Outlook (Message d'origine), HTML entities",
    raw: html(
      'TR: Offres',
      `<p>Pourriel.</p><p>-----Message d&#39;origine-----<br><b>De&nbsp;:</b> Shop &lt;news@sender.example&gt;<br><b>Envoy&eacute;&nbsp;:</b> mardi 2 janvier 2024 10:00<br><b>&Agrave;&nbsp;:</b> victim@mail.example<br><b>Objet&nbsp;:</b> Offres de printemps</p><p>Promotions !</p>`,
    ),
    subject: 'Offres de printemps',
    token: false,
  },
  {
    name: 'Spanish Gmail (Mensaje reenviado)',
    raw: plain('RV: Ofertas', `Correo basura.\n\n---------- Mensaje reenviado ---------\nDe: Shop <news@sender.example>\nFecha: mar, 2 ene 2024 a las 10:00\nAsunto: Ofertas de primavera\nPara: <victim@mail.example>\n\n¡Ofertas!\n${LINK}\n`),
    subject: 'Ofertas de primavera',
    token: true,
  },
  {
    name: 'quoted with "> " (forwarded as a quote)',
    raw: plain('Fwd: Spring offers', `Spam.\n\n> ---------- Forwarded message ---------\n> From: Shop <news@sender.example>\n> Date: Tue, Jan 2, 2024 at 10:00 AM\n> Subject: Spring offers\n> To: <victim@mail.example>\n>\n> Big savings!\n> ${LINK}\n`),
    subject: 'Spring offers',
    token: true,
  },
];

t.test('inline forwards of the common clients: the original, its token, found inline', async (t) => {
  for (const f of forwards) {
    const r = parse(f.raw);
    t.equal(r.kind, 'abuse', `${f.name}: kind`);
    t.match(r.original.from ?? '', /news@sender\.example/, `${f.name}: original From`);
    t.equal(r.original.subject, f.subject, `${f.name}: original Subject`);
    t.ok(r.original.date, `${f.name}: original Date`);
    t.equal(r.abuse?.originalFound, 'inline', `${f.name}: found inline`);
    t.equal(r.abuse?.reporter, 'victim@mail.example', `${f.name}: reporter`);
    t.equal(r.abuse?.channel, 'email', `${f.name}: channel`);
    t.same(r.phones, [], `${f.name}: no phones`);
    t.equal(r.recipients[0]?.address, 'victim@mail.example', `${f.name}: recipient`);
    t.ok(r.abuse?.originDomains.includes('sender.example'), `${f.name}: origin domains`);
    if (f.token) {
      t.same(r.attribution, ACME, `${f.name}: attributed through the body link`);
      t.equal(r.abuse?.tokenState, 'valid', `${f.name}: token valid`);
    } else {
      t.equal(r.attribution.via, 'none', `${f.name}: not attributed`);
      t.equal(r.abuse?.tokenState, 'missing', `${f.name}: token missing`);
    }
  }
});

t.test('a forward of a forward: the innermost message from outside the reporter\'s domain', async (t) => {
  const raw = Buffer.from(
    [
      'From: IT desk <it@corp.example>',
      'To: abuse@gate.example',
      'Subject: Fwd: Fwd: Spring offers',
      '',
      'FYI, reported by a colleague.',
      '',
      '---------- Forwarded message ---------',
      'From: Bob <bob@corp.example>',
      'Date: Tue, Jan 2, 2024 at 11:00 AM',
      'Subject: Fwd: Spring offers',
      'To: it@corp.example',
      '',
      'look at this',
      '',
      '---------- Forwarded message ---------',
      'From: Shop <news@sender.example>',
      'Date: Tue, Jan 2, 2024 at 10:00 AM',
      'Subject: Spring offers',
      'To: bob@corp.example',
      '',
      'Big savings!',
      '',
    ].join('\n'),
  );
  const r = parse(raw);
  t.equal(r.original.subject, 'Spring offers');
  t.match(r.original.from, /news@sender\.example/);
  t.equal(r.abuse?.reporter, 'it@corp.example');
});

t.test('a fake quoted thread inside the forwarded phish does not replace the phish', async (t) => {
  const raw = plain(
    'Fwd: Invoice',
    `Phishing attempt.\n\n---------- Forwarded message ---------\nFrom: CEO <ceo@phish.example>\nDate: Tue, Jan 2, 2024 at 10:00 AM\nSubject: RE: Invoice\nTo: <victim@mail.example>\n\nPlease pay today.\n\n-----Original Message-----\nFrom: Victim <victim@mail.example>\nSent: Monday, January 1, 2024 09:00\nTo: ceo@phish.example\nSubject: Invoice\n\nok\n`,
  );
  const r = parse(raw);
  t.match(r.original.from, /ceo@phish\.example/);
  t.equal(r.original.subject, 'RE: Invoice');
  t.ok(r.abuse?.phishing);
});

// ---------------------------------------------------------------------------------------
// Attached originals and pasted headers

function withAttachment(type: string, attached: string, intro = 'Please look at the attached spam.', extra: string[] = []): Buffer {
  return Buffer.from(
    [
      ...REPORTER,
      'Subject: Spam report',
      'Content-Type: multipart/mixed; boundary="x"',
      '',
      '--x',
      'Content-Type: text/plain; charset=utf-8',
      '',
      intro,
      '--x',
      `Content-Type: ${type}`,
      ...extra,
      '',
      attached,
      '--x--',
      '',
    ].join('\n'),
  );
}

const ORIGINAL_HEAD = [
  'Return-Path: <news@sender.example>',
  'Received: from mta1.sender.example (mta1.sender.example [192.0.2.10])',
  '\tby mx.mail.example with ESMTPS id abc',
  '\tfor <victim@mail.example>; Tue, 02 Jan 2024 10:00:00 +0000',
  'DKIM-Signature: v=1; a=rsa-sha256; d=sender.example; s=s1; h=from:to:subject; bh=xx; b=yy',
  'From: Shop <news@sender.example>',
  'To: victim@mail.example',
  'Subject: Spring offers',
  'Date: Tue, 02 Jan 2024 10:00:00 +0000',
  'Message-ID: <abc123@mta1.sender.example>',
];

t.test('message/rfc822 attached: token valid, forged or missing; origin domains', async (t) => {
  const attached = [...ORIGINAL_HEAD, `X-Abuse-Token: ${LONG}`, '', 'Big savings!'].join('\n');
  const valid = parse(withAttachment('message/rfc822', attached));
  // The forwarded message is evidence: hashed as a saved .eml holds it, CRLF line ends.
  const eml = Buffer.from(attached.replace(/\n/g, '\r\n'));
  t.equal(valid.kind, 'abuse');
  t.same(valid.attribution, ACME);
  t.same(valid.recipients.map((r) => [r.address, r.reason]), [['victim@mail.example', 'feedback']], 'the recipient the token names');
  t.same(
    [valid.original.messageId, valid.original.subject, valid.original.returnPath],
    ['<abc123@mta1.sender.example>', 'Spring offers', 'news@sender.example'],
  );
  t.same(valid.abuse, {
    channel: 'email',
    reporter: 'victim@mail.example',
    originalFound: 'attached',
    phishing: false,
    phishingTerms: [],
    originDomains: ['sender.example', 'mta1.sender.example', 'mx.mail.example'],
    tokenState: 'valid',
    attachments: [{ name: null, type: 'message/rfc822', size: eml.length, sha256: createHash('sha256').update(eml).digest('hex') }],
  });

  const forged = parse(withAttachment('message/rfc822', [...ORIGINAL_HEAD, `X-Abuse-Token: ${flip(LONG)}`, '', 'Big savings!'].join('\n')));
  t.equal(forged.attribution.via, 'none');
  t.equal(forged.abuse?.tokenState, 'forged', 'an altered header token');
  const forgedLink = parse(withAttachment('message/rfc822', [...ORIGINAL_HEAD, '', `Unsubscribe: https://u.sender.example/u/${flip(LONG)}`].join('\n')));
  t.equal(forgedLink.abuse?.tokenState, 'forged', 'an altered footer link');
  const forgedVerp = parse(withAttachment('message/rfc822', [`Return-Path: <bounces+${flip(SHORT)}@b.sender.example>`, ...ORIGINAL_HEAD.slice(1), '', 'x'].join('\n')));
  t.equal(forgedVerp.abuse?.tokenState, 'forged', 'an altered VERP token');
  t.ok(forgedVerp.abuse?.originDomains.includes('b.sender.example'));

  const missing = parse(withAttachment('message/rfc822', [...ORIGINAL_HEAD, '', 'Big savings!'].join('\n')));
  t.equal(missing.abuse?.tokenState, 'missing');
  t.same(missing.abuse?.originDomains, ['sender.example', 'mta1.sender.example', 'mx.mail.example']);
});

t.test('attached as text/rfc822-headers, or as an unlabelled .eml', async (t) => {
  const headersOnly = parse(withAttachment('text/rfc822-headers', ORIGINAL_HEAD.join('\n')));
  t.equal(headersOnly.abuse?.originalFound, 'headers-only');
  t.equal(headersOnly.original.messageId, '<abc123@mta1.sender.example>');

  const eml = Buffer.from([...ORIGINAL_HEAD, `X-Abuse-Token: ${LONG}`, '', 'Big savings!', ''].join('\r\n')).toString('base64');
  const octet = parse(withAttachment('application/octet-stream; name="spam.eml"', eml, 'See attachment.', ['Content-Transfer-Encoding: base64', 'Content-Disposition: attachment; filename="spam.eml"']));
  t.equal(octet.abuse?.originalFound, 'attached');
  t.equal(octet.original.subject, 'Spring offers');
  t.same(octet.attribution, ACME);
});

t.test('pasted raw headers: headers-only, VERP attribution, every origin domain', async (t) => {
  const head = [`Return-Path: <bounces+${SHORT}@b.sender.example>`, ...ORIGINAL_HEAD.slice(1)];
  const r = parse(plain('Spam headers', `Here are the full headers of the spam I got:\n\n${head.join('\n')}\n`));
  t.equal(r.abuse?.originalFound, 'headers-only');
  t.same(r.attribution, { ...ACME, via: 'verp' });
  t.equal(r.abuse?.tokenState, 'valid');
  t.equal(r.original.messageId, '<abc123@mta1.sender.example>');
  t.same(r.abuse?.originDomains, ['sender.example', 'b.sender.example', 'mta1.sender.example', 'mx.mail.example']);

  const withBody = parse(plain('Spam', `Headers and message:\n\n${ORIGINAL_HEAD.join('\n')}\n\nBig savings!\n`));
  t.equal(withBody.abuse?.originalFound, 'inline', 'the pasted body follows');

  const quoted = parse(plain('Spam', `Headers:\n\n${ORIGINAL_HEAD.map((l) => '> ' + l).join('\n')}\n`));
  t.equal(quoted.original.subject, 'Spring offers', 'quoted paste');
});

t.test('a spoof naming our domain with no token vs. a plain-text complaint with nothing attached', async (t) => {
  const spoof = parse(plain('Fwd: Account', `---------- Forwarded message ---------\nFrom: Support <support@sender.example>\nDate: Tue, Jan 2, 2024 at 10:00 AM\nSubject: Your account has been suspended\nTo: <victim@mail.example>\n\nClick here to verify your account: http://evil.example/login\n`));
  t.equal(spoof.abuse?.tokenState, 'missing');
  t.same(spoof.abuse?.originDomains, ['sender.example']);
  t.ok(spoof.abuse?.phishing);
  t.same(spoof.abuse?.phishingTerms, ['verify your account', 'suspended account', 'click here to confirm', 'login']);

  const prose = parse(plain('Spam', 'Your customer news@sender.example keeps spamming me. I never signed up.\n\nJohn\nMobile: 0412 345 678\n'));
  t.equal(prose.kind, 'abuse');
  t.equal(prose.abuse?.originalFound, 'none');
  t.equal(prose.abuse?.channel, 'email');
  t.same(prose.phones, [], 'a number in the signature of an e-mail complaint is no SMS recipient');
  t.same(prose.abuse?.originDomains, []);
  t.equal(prose.original.messageId, null);
});

t.test('a link-rewriting gateway URL-encodes the footer link: still traced', async (t) => {
  const safe = `https://eur01.safelinks.protection.outlook.com/?url=https%3A%2F%2Fu.sender.example%2Fu%2F${LONG}&data=05%7C02`;
  const r = parse(plain('FW: offers', `Spam\n\n-----Original Message-----\nFrom: Shop <news@sender.example>\nSent: Tuesday, January 2, 2024 10:00\nTo: victim@mail.example\nSubject: offers\n\nUnsubscribe <${safe}>\n`));
  t.same(r.attribution, ACME);
  t.equal(r.abuse?.tokenState, 'valid');
});

t.test('ARF sent to abuse@ stays a complaint, with the abuse details', async (t) => {
  const arf = Buffer.from(
    [
      'From: fbl@isp.example',
      'To: abuse@gate.example',
      'Subject: Abuse report',
      'MIME-Version: 1.0',
      'Content-Type: multipart/report; report-type=feedback-report; boundary="b"',
      '',
      '--b',
      'Content-Type: text/plain',
      '',
      'This is an email abuse report.',
      '--b',
      'Content-Type: message/feedback-report',
      '',
      'Feedback-Type: fraud',
      'User-Agent: ISP-FBL/1.0',
      'Version: 1',
      'Original-Rcpt-To: alice@isp.example',
      '--b',
      'Content-Type: message/rfc822',
      '',
      ...ORIGINAL_HEAD,
      `X-Abuse-Token: ${flip(LONG)}`,
      '',
      'Your account has been suspended. Verify your account now at https://Pay.Sender.Example/login',
      '--b--',
      '',
    ].join('\n'),
  );
  const r = parse(arf);
  t.equal(r.kind, 'complaint');
  t.equal(r.recipients[0].feedbackType, 'fraud');
  t.equal(r.recipients[0].address, 'alice@isp.example');
  t.same(r.phones, []);
  t.equal(r.abuse?.originalFound, 'attached');
  t.equal(r.abuse?.tokenState, 'forged');
  t.equal(r.abuse?.reporter, 'fbl@isp.example');
  t.ok(r.abuse?.phishing);
  t.ok(r.abuse?.originDomains.includes('sender.example'));
  t.same(r.abuse?.linkDomains, ['pay.sender.example'], "the original's link domains");
  t.same(r.abuse?.attachments?.map((a) => a.type), ['message/rfc822'], 'the original is evidence');
  t.notOk('abuse' in parseMessage(arf, { codec, mailbox: 'fbl' }), 'at fbl@ the report is unchanged');
});

// ---------------------------------------------------------------------------------------
// SMS complaints

type SmsRow = [name: string, region: string | undefined, subject: string, text: string, phones: string[]];
const sms: SmsRow[] = [
  [
    'AU national and international forms, deduplicated; sender and landline left out',
    'AU',
    'Spam SMS',
    'I keep getting text messages from 0412 345 678 on my mobile 0400 000 000 (also written 0400000000 or +61 400 000 000).\nMy partner on 0400 000 001 gets them too. Our landline (02) 9876 5432 was also called.',
    ['+61400000000', '+61400000001'],
  ],
  [
    'UK: 07700 900123 and +44 7700 900123 are one number; short code and London landline left out',
    'GB',
    'Unwanted texts',
    'Unsolicited SMS to 07700 900123 and again to +44 7700 900123, sent from short code 60123. Please call my office on 020 7946 0958.',
    ['+447700900123'],
  ],
  [
    'US (the default region): (201) 555-0123; short code and toll-free left out',
    undefined,
    'Stop texting me',
    'I got a text message on (201) 555-0123 from short code 55555. Reply STOP did nothing. Your support line 1-800-555-0199 is useless.',
    ['+12015550123'],
  ],
  [
    'international numbers whatever the region',
    'US',
    'SMS spam',
    'These SMS reached +61 400 000 000 and +44 7700 900123.',
    ['+61400000000', '+447700900123'],
  ],
  ['a sender label excludes the number', 'AU', 'SMS', 'Sender: 0412 345 678\nReceived on my phone 0400 000 000 yesterday, an sms about loans.', ['+61400000000']],
];

t.test('SMS complaints: mobile numbers in E.164, the default region configurable', async (t) => {
  for (const [name, region, subject, text, phones] of sms) {
    const r = parse(plain(subject, text), region ? { phoneRegion: region } : {});
    t.equal(r.kind, 'abuse', `${name}: kind`);
    t.same(r.phones, phones, `${name}: phones`);
    t.equal(r.abuse?.channel, 'sms', `${name}: channel`);
    t.equal(r.abuse?.originalFound, 'none', `${name}: no e-mail original`);
  }
  const au = 'Spam text message to 0400 000 000';
  t.same(parse(plain('SMS', au), { phoneRegion: 'AU' }).phones, ['+61400000000']);
  const asUs = parse(plain('SMS', au), { phoneRegion: 'US' });
  t.same(asUs.phones, [], 'read in another region the national form is not a number');
  t.equal(asUs.abuse?.channel, 'email');
  t.same(parse(plain('SMS', au), { phoneRegion: 'nonsense' }).phones, [], 'an unknown region reads only international forms');
  t.same(parse(plain('SMS', 'sms to +61 400 000 000'), { phoneRegion: 'nonsense' }).phones, ['+61400000000']);
});

t.test('mobileNumbers and aboutSms directly', async (t) => {
  t.same(mobileNumbers('0400 000 000, 0400-000-000 and 0400.000.000', 'AU'), ['+61400000000'], 'dedupe across formats');
  t.same(mobileNumbers('13 13 13 or 1300 655 506 or 000', 'AU'), [], 'shared-cost and emergency numbers');
  t.same(mobileNumbers('on 2024-01-02 at 10:00:00 from 192.0.2.10, order 12345678', 'GB'), [], 'dates, IPs and order numbers');
  t.same(mobileNumbers('Mobil: 0151 23456789', 'DE'), ['+4915123456789']);
  t.same(mobileNumbers('mon portable 06 12 34 56 78', 'FR'), ['+33612345678']);
  for (const s of ['Spam SMS', 'I got a text message', 'they keep texting me', 'mensaje de texto', 'un texto de publicité', 'eine Textnachricht']) t.ok(aboutSms(s), s);
  for (const s of ['the text of the email', 'Context: newsletter']) t.notOk(aboutSms(s), s);
});

// ---------------------------------------------------------------------------------------
// Phishing language, origin domains, HTML

t.test('phishing language: strong phrases alone, weak ones in pairs, several languages', async (t) => {
  const rows: Array<[string, boolean, string[]]> = [
    ['Please verify your account within 24 hours', true, ['verify your account', 'urgent']],
    ['Your account has been suspended', true, ['suspended account']],
    ['This is a phishing mail', true, ['phishing']],
    ['Click here to confirm your details', true, ['click here to confirm']],
    ['We noticed unusual sign-in activity', true, ['unusual sign-in activity', 'login']],
    ['Enter your password and your bank details', true, ['enter your password', 'password', 'bank', 'payment details']],
    ['Your bank password', false, ['password', 'bank']],
    ['Log in to online banking and update the password', true, ['password', 'login', 'bank']],
    ['Ihr Konto wurde gesperrt. Bitte bestätigen Sie Ihre Identität.', true, ['verify your account', 'suspended account']],
    ['Votre compte a été suspendu, vérifiez votre compte', true, ['verify your account', 'suspended account']],
    ['Su cuenta ha sido suspendida. Verifique su cuenta.', true, ['verify your account', 'suspended account']],
    ['Big spring savings on garden furniture', false, []],
    ['Manage your preferences after you log in', false, ['login']],
  ];
  for (const [text, phishing, terms] of rows) t.same(phishingLanguage(text), { phishing, terms }, text);
});

t.test('originDomains: From, Sender, Return-Path, DKIM, Received, Message-ID, List-Unsubscribe', async (t) => {
  const h = parseHeaderBlock(
    [
      'Return-Path: <bounce@Bounce.Sender.Example>',
      'Received: from relay.other.example (relay.other.example. [198.51.100.1]) by mx.mail.example (Postfix) with ESMTP id X; Tue, 2 Jan 2024',
      'Received: from [192.0.2.1] by 10.0.0.1; Tue, 2 Jan 2024',
      'DKIM-Signature: v=1; d=signer.example; i=@sub.signer.example; s=k',
      'From: "Shop" <news@sender.example>',
      'Sender: agent@agent.example',
      'Message-ID: <x@msgid.example>',
      'List-Unsubscribe: <https://u.sender.example/u/x>, <mailto:unsub@lists.example?subject=x>',
    ].join('\n'),
  );
  t.same(originDomains(h), [
    'sender.example',
    'agent.example',
    'bounce.sender.example',
    'signer.example',
    'sub.signer.example',
    'relay.other.example',
    'mx.mail.example',
    'msgid.example',
    'u.sender.example',
    'lists.example',
  ]);
  t.same(originDomains(null), []);
});

t.test('htmlToText: blocks, entities, links, scripts', async (t) => {
  t.equal(htmlToText('<p>a&amp;b&nbsp;c</p><p>d<br>e</p>'), 'a&b c\nd\ne');
  t.equal(htmlToText('<style>x{}</style><script>alert(1)</script><div>f&#233;&#xE9;&eacute;</div>'), 'fééé');
  t.equal(htmlToText('<a href="https://x.example/u/1">Unsubscribe</a>'), 'Unsubscribe <https://x.example/u/1>');
  t.equal(htmlToText('<table><tr><th>Subject:</th><td>Hi</td></tr><tr><th>From:</th><td>A</td></tr></table>'), 'Subject: Hi\nFrom: A');
  t.equal(htmlToText('<!-- hidden --> 1 < 2 and <b>bold'), '1 < 2 and bold');
  const big = '<a href="x">'.repeat(20000) + 'text';
  const t0 = Date.now();
  htmlToText(big);
  t.ok(Date.now() - t0 < 500, 'linear on hostile input');
});

t.test('inlineOriginal: no header block, no original', async (t) => {
  t.equal(inlineOriginal('Hello,\nFrom now on: please stop.\nSubject to change.\n'), null);
  t.equal(inlineOriginal('Note: spam\nTo: whom it may concern\n'), null);
});

// ---------------------------------------------------------------------------------------
// `abusegate parse` names no mailbox

t.test('with no mailbox, a message that reads as an abuse report is kind abuse', async (t) => {
  const fwd = parseMessage(forwards[0].raw, { codec });
  t.equal(fwd.kind, 'abuse');
  t.same(fwd.attribution, ACME);
  const smsNoMailbox = parseMessage(plain('SMS spam', 'Text messages to 0400 000 000 every day'), { codec, phoneRegion: 'AU' });
  t.equal(smsNoMailbox.kind, 'abuse');
  t.same(smsNoMailbox.phones, ['+61400000000']);
  const complaint = parseMessage(plain('Spam', 'Stop sending me your newsletters, I never subscribed.'), { codec });
  t.equal(complaint.kind, 'abuse');
  const bareForward = Buffer.from(withAttachment('message/rfc822', [...ORIGINAL_HEAD, '', 'Big savings!'].join('\n'), '').toString().replace('Subject: Spam report', 'Subject: Fwd: Spring offers'));
  t.equal(parseMessage(bareForward, { codec }).kind, 'abuse', 'a bare "Fwd:" with the original attached');
  const noReason = Buffer.from(bareForward.toString().replace('Subject: Fwd: Spring offers', 'Subject: the original, as you asked'));
  t.equal(parseMessage(noReason, { codec }).kind, 'unknown', 'an attached message with no complaint is not a report');
  t.equal(parseMessage(noReason, { codec, mailbox: 'abuse' }).kind, 'abuse', 'at abuse@ it is');
  const daemon = Buffer.from('From: MAILER-DAEMON@mx.example\nTo: x@gate.example\nSubject: Returned mail\n\nYour message was rejected as spam.\n');
  t.equal(parseMessage(daemon, { codec }).kind, 'unknown', 'a mailer daemon writes no abuse reports');
  const question = parseMessage(plain('My order', 'Where is my parcel?'), { codec });
  t.equal(question.kind, 'unknown');
  t.notOk('abuse' in question);
});
