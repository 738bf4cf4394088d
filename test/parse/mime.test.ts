// The MIME walker: header folding, multipart splitting, and the forgiving cases real
// bounces need.
import t from 'tap';
import { parseHeaderBlock, parseMime, partText } from '../../src/parse/mime.js';

t.test('header fields are unfolded (RFC 5322 §2.2.3)', async (t) => {
  const h = parseHeaderBlock('Subject: a\n  long subject\nContent-Type: multipart/report;\n\treport-type=delivery-status;\n\tboundary="b1"');
  t.equal(h.get('subject'), 'a long subject');
  t.equal(h.get('content-type'), 'multipart/report; report-type=delivery-status; boundary="b1"');
});

t.test('a Content-Type parameter on an unindented line belongs to the field (Apache James)', async (t) => {
  const h = parseHeaderBlock('Content-Type: multipart/alternative;\nboundary="----=_Part_1"');
  t.equal(h.get('content-type'), 'multipart/alternative; boundary="----=_Part_1"');
  const cases: Array<[string, string, string | undefined]> = [
    ['RFC 2231 continuation', 'Content-Disposition: attachment;\nfilename*0="a.txt"', 'attachment; filename*0="a.txt"'],
    ['after a field ending in ";"', 'X-Thing: a;\nb=c', 'a; b=c'],
    ['not a parameter: dropped', 'Content-Type: text/plain;\nthis is prose', 'text/plain;'],
    ['a parameter-looking line after an ordinary field: dropped', 'Subject: hello\nboundary="x"', undefined],
  ];
  for (const [what, head, ct] of cases) {
    const hl = parseHeaderBlock(head);
    const name = head.slice(0, head.indexOf(':')).toLowerCase();
    if (ct === undefined) t.equal(hl.fields.length, 1, what);
    else t.equal(hl.get(name), ct, what);
  }
});

t.test('a multipart whose boundary parameter is on an unindented line is split', async (t) => {
  const raw = [
    'From: post_master@example.com',
    'Content-Type: multipart/mixed; boundary="outer"',
    '',
    '--outer',
    'Content-Type: multipart/alternative;',
    'boundary="inner"',
    '',
    '--inner',
    'Content-Type: text/plain; charset=us-ascii',
    '',
    'Error: Invalid user address',
    '--inner--',
    '--outer',
    'Content-Type: message/rfc822',
    '',
    'From: someone@example.org',
    'Subject: Test',
    '',
    'Hello',
    '--outer--',
    '',
  ].join('\r\n');
  const root = parseMime(Buffer.from(raw));
  t.equal(root.children.length, 2);
  const alt = root.children[0];
  t.equal(alt.type, 'multipart/alternative');
  t.equal(alt.params.boundary, 'inner');
  t.equal(alt.children.length, 1);
  t.match(partText(alt.children[0]), /Invalid user address/);
  t.equal(root.children[1].children[0].headers.get('subject'), 'Test');
});

t.test('line endings: CRLF, CR and LF read the same', async (t) => {
  const lf = 'Subject: x\nContent-Type: text/plain\n\nbody\n';
  for (const eol of ['\r\n', '\r']) {
    const p = parseMime(Buffer.from(lf.replace(/\n/g, eol)));
    t.equal(p.headers.get('subject'), 'x');
    t.equal(partText(p).trim(), 'body');
  }
});

t.test('a multipart with no delimiter lines stays one leaf', async (t) => {
  const p = parseMime(Buffer.from('Content-Type: multipart/report; boundary="nope"\n\nplain text only\n'));
  t.equal(p.children.length, 0);
  t.match(partText(p), /plain text only/);
});
