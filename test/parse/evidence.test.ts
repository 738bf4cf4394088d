// Evidence of abuse@ mail (issue 15, part 5): the files attached, listed with name, type,
// decoded size and SHA-256 (never opened), and the domains the reported message links to.
import { createHash } from 'node:crypto';
import t from 'tap';
import { linkDomains } from '../../src/parse/abuse/domains.js';
import { parseMessage } from '../../src/parse/index.js';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const b64 = (b: Buffer): string => b.toString('base64').replace(/.{76}/g, '$&\n');

const PNG = Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489', 'hex');
const MSG = Buffer.concat([Buffer.from('d0cf11e0a1b11ae1', 'hex'), Buffer.alloc(300, 7)]);
const PDF = Buffer.from('%PDF-1.4\n% a made-up invoice\n%%EOF\n');

const ORIGINAL_HTML = [
  '<p>Dear customer, <a href="https://Login.Phish.Example:8443/verify?x=1&amp;y=2">verify your account</a>.</p>',
  '<p><a href="http://user:pw@b\u00fccher.example/path">books</a> and <a href="mailto:x@mail.example">mail</a>',
  '<a href="https://eur01.safelinks.protection.outlook.com/?url=https%3A%2F%2Fredirect.example%2Fgo&amp;data=1">wrapped</a></p>',
  '<img src="https://tracker.example/pixel.gif">',
].join('\n');

/** A report to abuse@: the reporter's words, a screenshot, an Outlook item, a PDF, and the phish forwarded as message/rfc822. */
function report(): { raw: Buffer; eml: string } {
  const eml = [
    'From: Bank <support@phish.example>',
    'To: victim@mail.example',
    'Subject: Your account',
    'Message-ID: <p1@phish.example>',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="inner"',
    '',
    '--inner',
    'Content-Type: multipart/alternative; boundary="alt"',
    '',
    '--alt',
    'Content-Type: text/plain; charset=utf-8',
    '',
    'Verify at https://login.phish.example/verify today. Visit https://shop.example.',
    '--alt',
    'Content-Type: text/html; charset=utf-8',
    '',
    ORIGINAL_HTML,
    '--alt--',
    '--inner',
    'Content-Type: application/zip; name="invoice.zip"',
    'Content-Disposition: attachment; filename="invoice.zip"',
    'Content-Transfer-Encoding: base64',
    '',
    b64(Buffer.from('PK not really a zip')),
    '--inner--',
  ].join('\n');
  const raw = [
    'From: Victim <victim@mail.example>',
    'To: abuse@gate.example',
    'Subject: Phishing from your customer',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="outer"',
    '',
    '--outer',
    'Content-Type: text/plain; charset=utf-8',
    '',
    'This is phishing. My own site is https://victims-blog.example, not theirs.',
    '--outer',
    'Content-Type: image/png',
    'Content-Disposition: inline; filename="screenshot.png"',
    'Content-Transfer-Encoding: base64',
    '',
    b64(PNG),
    '--outer',
    'Content-Type: application/vnd.ms-outlook',
    'Content-Transfer-Encoding: base64',
    '',
    b64(MSG),
    '--outer',
    'Content-Type: application/pdf',
    "Content-Disposition: attachment; filename*=utf-8''Rechnung%20M%C3%A4rz.pdf",
    'Content-Transfer-Encoding: base64',
    '',
    b64(PDF),
    '--outer',
    'Content-Type: message/rfc822',
    '',
    eml,
    '--outer--',
    '',
  ].join('\n');
  return { raw: Buffer.from(raw), eml };
}

t.test('abuse@: every attachment with name, type, decoded size and SHA-256; the original forwarded as message/rfc822 among them', async (t) => {
  const { raw, eml } = report();
  const r = parseMessage(raw, { mailbox: 'abuse' });
  t.equal(r.kind, 'abuse');
  t.equal(r.abuse?.originalFound, 'attached');
  const emlOctets = Buffer.from(eml.replace(/\n/g, '\r\n'));
  t.same(r.abuse?.attachments, [
    { name: 'screenshot.png', type: 'image/png', size: PNG.length, sha256: sha(PNG) },
    { name: null, type: 'application/vnd.ms-outlook', size: MSG.length, sha256: sha(MSG) },
    { name: 'Rechnung März.pdf', type: 'application/pdf', size: PDF.length, sha256: sha(PDF) },
    { name: null, type: 'message/rfc822', size: emlOctets.length, sha256: sha(emlOctets) },
  ]);
  t.notOk(r.abuse?.attachments?.some((a) => a.name === 'invoice.zip'), "the original's own attachment is inside the .eml, not listed apart");
});

t.test("abuse@: link domains of the reported message's text and HTML, lower case, A-label, unique, in order", async (t) => {
  const r = parseMessage(report().raw, { mailbox: 'abuse' });
  t.same(r.abuse?.linkDomains, [
    'login.phish.example', // the plain text
    'shop.example',
    'xn--bcher-kva.example', // userinfo and port dropped, the U-label converted
    'eur01.safelinks.protection.outlook.com',
    'redirect.example', // the wrapped destination too
  ]);
  t.notOk(r.abuse?.linkDomains?.includes('victims-blog.example'), "the reporter's own words are no part of the reported message");
  t.notOk(r.abuse?.linkDomains?.includes('tracker.example'), 'an image source is no link');
});

t.test('an inline forward: the links of the forwarded text only', async (t) => {
  const raw = Buffer.from(
    [
      'From: Victim <victim@mail.example>',
      'To: abuse@gate.example',
      'Subject: Fwd: offers',
      'Content-Type: text/plain; charset=utf-8',
      '',
      'Spam again, see https://my-own.example/help',
      '',
      '---------- Forwarded message ---------',
      'From: Shop <news@sender.example>',
      'Date: Tue, Jan 2, 2024 at 10:00 AM',
      'Subject: offers',
      'To: <victim@mail.example>',
      '',
      'Buy at HTTPS://Deals.Example/now or http://deals.example/later.',
      '',
    ].join('\n'),
  );
  const r = parseMessage(raw, { mailbox: 'abuse' });
  t.equal(r.abuse?.originalFound, 'inline');
  t.same(r.abuse?.linkDomains, ['deals.example']);
  t.notOk('attachments' in (r.abuse ?? {}), 'no attachment, no field');
});

t.test('plain complaint without an original: neither list; a text part shown inline is no attachment', async (t) => {
  const raw = Buffer.from(
    [
      'From: Victim <victim@mail.example>',
      'To: abuse@gate.example',
      'Subject: spam',
      'Content-Type: multipart/mixed; boundary="m"',
      '',
      '--m',
      'Content-Type: text/plain',
      '',
      'You keep spamming me from https://spammer.example. I never signed up.',
      '--m',
      'Content-Type: text/html',
      '',
      '<p>same words</p>',
      '--m',
      'Content-Type: text/plain; name="headers.txt"',
      'Content-Disposition: attachment; filename="headers.txt"',
      '',
      'Received: from x',
      '--m--',
      '',
    ].join('\n'),
  );
  const r = parseMessage(raw, { mailbox: 'abuse' });
  t.equal(r.abuse?.originalFound, 'none');
  t.notOk('linkDomains' in (r.abuse ?? {}));
  const file = Buffer.from('Received: from x');
  t.same(r.abuse?.attachments, [{ name: 'headers.txt', type: 'text/plain', size: file.length, sha256: sha(file) }], 'a text file attached as a file is listed');
});

t.test('bounded: 50 attachments, 100 link domains', async (t) => {
  const parts: string[] = [];
  for (let i = 0; i < 60; i++) parts.push('--m', 'Content-Type: image/gif', `Content-Disposition: attachment; filename="s${i}.gif"`, '', `GIF89a ${i}`);
  const links = Array.from({ length: 150 }, (_, i) => `https://d${i}.example/`).join(' ');
  const raw = Buffer.from(
    ['From: v@mail.example', 'To: abuse@gate.example', 'Subject: Fwd: spam', 'Content-Type: multipart/mixed; boundary="m"', '', ...parts, '--m', 'Content-Type: message/rfc822', '', 'From: s@sender.example', 'Subject: x', '', links, '--m--', ''].join('\n'),
  );
  const r = parseMessage(raw, { mailbox: 'abuse' });
  t.equal(r.abuse?.attachments?.length, 50);
  t.equal(r.abuse?.attachments?.[49].name, 's49.gif');
  t.equal(r.abuse?.linkDomains?.length, 100);
  t.equal(r.abuse?.linkDomains?.[99], 'd99.example');
});

t.test('linkDomains: no domain from garbage, IP literals or other schemes; linear on hostile runs', async (t) => {
  t.same(linkDomains(['ftp://files.example/ http://192.0.2.1/ https://[2001:db8::1]/ http:// https://-bad-.example https://ok.example.']), ['ok.example']);
  t.same(linkDomains(['see https://a.example, (https://b.example) "https://c.example" <https://d.example>']), ['a.example', 'b.example', 'c.example', 'd.example']);
  for (const run of ['://'.repeat(400_000), 'https://' + 'a'.repeat(1_000_000), 'http://a.'.repeat(100_000), '%3A%2F%2F'.repeat(100_000)]) {
    const t0 = performance.now();
    linkDomains([run]);
    t.ok(performance.now() - t0 < 2000, `${JSON.stringify(run.slice(0, 12))}… of ${run.length} in linear time`);
  }
});
