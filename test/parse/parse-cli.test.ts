import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import t from 'tap';
import { runParse } from '../../src/cli/parse.js';

const ARF = `From: fbl@isp.example
To: fbl@gate.example
Subject: Abuse report
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="b"

--b
Content-Type: text/plain

This is an email abuse report.
--b
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: ISP-FBL/1.0
Version: 1
Original-Rcpt-To: alice@isp.example
--b
Content-Type: message/rfc822

From: news@sender.example
To: alice@isp.example
Subject: Offers
Message-ID: <m1@sender.example>

Buy now
--b--
`;

// RFC 3464 §6 shape, trimmed.
const DSN = `From: Mail Delivery System <MAILER-DAEMON@mx.sender.example>
To: bounces+abc@gate.example
Subject: Undelivered Mail Returned to Sender
Date: Tue, 2 Jan 2024 10:05:00 +0000
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="d"

--d
Content-Type: text/plain

I'm sorry to have to inform you that your message could not be delivered.

<nobody@isp.example>: host mx.isp.example said: 550 5.1.1 <nobody@isp.example>: Recipient address rejected: User unknown
--d
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.sender.example
Arrival-Date: Tue, 2 Jan 2024 10:04:59 +0000

Final-Recipient: rfc822; nobody@isp.example
Original-Recipient: rfc822; nobody@isp.example
Action: failed
Status: 5.1.1
Remote-MTA: dns; mx.isp.example
Diagnostic-Code: smtp; 550 5.1.1 <nobody@isp.example>: Recipient address rejected: User unknown
--d
Content-Type: text/rfc822-headers

From: news@sender.example
To: nobody@isp.example
Subject: Offers
Message-ID: <m2@sender.example>
--d--
`;

const AUTOREPLY = `From: Carol <carol@isp.example>
To: news@sender.example
Subject: Out of office: Offers
Auto-Submitted: auto-replied
Date: Tue, 2 Jan 2024 10:06:00 +0000

I am away until Monday.
`;

const PLAIN = `From: Dave <dave@isp.example>
To: news@sender.example
Subject: Question about my order
Date: Tue, 2 Jan 2024 10:07:00 +0000

Where is my parcel?
`;

function sink() {
  const s = new PassThrough();
  let text = '';
  s.on('data', (c: Buffer) => (text += c.toString('utf8')));
  return { stream: s, text: () => text };
}

function tree(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'abusegate-parse-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'b-arf.eml'), ARF);
  writeFileSync(join(dir, 'a-dsn.eml'), DSN);
  mkdirSync(join(dir, 'sub'));
  writeFileSync(join(dir, 'sub', 'c-autoreply.eml'), AUTOREPLY);
  writeFileSync(join(dir, 'd-plain.eml'), PLAIN);
  writeFileSync(join(dir, 'notes.txt'), 'not a message');
  return dir;
}

t.test('a folder: one JSON line per *.eml, sorted, with kind detection', async (t) => {
  const dir = tree(t);
  const out = sink();
  const err = sink();
  const code = await runParse([dir], { out: out.stream, err: err.stream, progress: false });
  t.equal(code, 0);
  t.equal(err.text(), '', 'nothing on stderr without a terminal');
  const lines = out.text().trimEnd().split('\n');
  const objs = lines.map((l) => JSON.parse(l));
  t.same(
    objs.map((o) => o.file),
    [join(dir, 'a-dsn.eml'), join(dir, 'b-arf.eml'), join(dir, 'd-plain.eml'), join(dir, 'sub', 'c-autoreply.eml')],
    'recursive, sorted, *.eml only',
  );
  const kinds = Object.fromEntries(objs.map((o) => [o.file.split('/').pop(), o.kind]));
  t.same(kinds, { 'a-dsn.eml': 'bounce', 'b-arf.eml': 'complaint', 'd-plain.eml': 'unknown', 'c-autoreply.eml': 'autoreply' });
  const arf = objs.find((o) => o.file.endsWith('b-arf.eml'));
  t.same(Object.keys(arf), ['file', 'kind', 'recipients', 'original', 'reporter', 'attribution', 'phones']);
  t.equal(arf.recipients[0].address, 'alice@isp.example');
  t.equal(arf.recipients[0].feedbackType, 'abuse');
  const dsn = objs.find((o) => o.file.endsWith('a-dsn.eml'));
  t.equal(dsn.recipients[0]?.address, 'nobody@isp.example');
  for (const o of objs) t.notOk('error' in o, `${o.file} parsed`);
});

t.test('files given directly are parsed whatever their name; unreadable paths fail at the end', async (t) => {
  const dir = tree(t);
  const out = sink();
  const missing = join(dir, 'missing.eml');
  const code = await runParse([missing, join(dir, 'notes.txt'), join(dir, 'b-arf.eml')], {
    out: out.stream,
    err: sink().stream,
    progress: false,
  });
  t.equal(code, 1, 'exit code 1');
  const objs = out.text().trimEnd().split('\n').map((l) => JSON.parse(l));
  t.equal(objs.length, 3, 'the others still parsed');
  t.equal(objs[0].file, missing);
  t.match(objs[0].error, /no such file/);
  t.equal(objs[0].kind, 'unknown');
  t.equal(objs[1].kind, 'unknown');
  t.equal(objs[2].kind, 'complaint');
});

t.test('progress goes to stderr; stdout stays JSON lines', async (t) => {
  const dir = tree(t);
  const out = sink();
  const err = sink();
  await runParse([dir], { out: out.stream, err: err.stream, progress: true });
  t.match(err.text(), /\r1\/4 /);
  t.match(err.text(), /\r4\/4 .*\n$/);
  for (const l of out.text().trimEnd().split('\n')) t.doesNotThrow(() => JSON.parse(l));
  t.notMatch(out.text(), /\r/);
});
