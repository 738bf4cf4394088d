/**
 * Property test over the parser: mutated corpus messages and hostile constructions never
 * crash, never hang, stay within memory, and always give a well-formed result.
 */
import { readdirSync, readFileSync } from 'node:fs';
import t from 'tap';
import { rng } from '../helpers/rng.js';
import { parseMessage } from '../../src/parse/index.js';
import { loadBounceRules } from '../../src/parse/bounce/index.js';
import { createTokenCodec } from '../../src/token/token.js';

const CORPUS = new URL('../../../shared/corpus/bounces/', import.meta.url).pathname;
const KINDS = new Set(['complaint', 'bounce', 'abuse', 'unsubscribe', 'autoreply', 'delivery-notice', 'unknown']);
const codec = createTokenCodec({ current: 'a', keys: { a: 'fuzz-secret-0123456789abcdef-0123456789' } });
const rules = loadBounceRules();

const files = ['bsd', 'crlf', 'cr', 'not'].flatMap((d) => readdirSync(CORPUS + d).map((f) => readFileSync(`${CORPUS}${d}/${f}`)));

function mutate(src: Buffer, r: () => number): Buffer {
  const b = Buffer.from(src);
  const n = Math.floor(r() * 6);
  switch (n) {
    case 0: // flip random bytes, 8-bit garbage included
      for (let i = 0; i < 1 + r() * 50; i++) b[Math.floor(r() * b.length)] = Math.floor(r() * 256);
      return b;
    case 1: // truncate anywhere (a multipart cut short)
      return b.subarray(0, Math.floor(r() * b.length));
    case 2: {
      // delete a run of lines
      const lines = b.toString('latin1').split('\n');
      const at = Math.floor(r() * lines.length);
      lines.splice(at, 1 + Math.floor(r() * 20));
      return Buffer.from(lines.join('\n'), 'latin1');
    }
    case 3: {
      // duplicate a run of lines (repeated boundaries, repeated headers)
      const lines = b.toString('latin1').split('\n');
      const at = Math.floor(r() * lines.length);
      lines.splice(at, 0, ...lines.slice(at, at + 1 + Math.floor(r() * 30)));
      return Buffer.from(lines.join('\n'), 'latin1');
    }
    case 4: // mixed line endings
      return Buffer.from(b.toString('latin1').replace(/\n/g, () => ['\n', '\r\n', '\r', '\n\r'][Math.floor(r() * 4)]), 'latin1');
    default: {
      // break encodings: corrupt base64 / QP / charset labels
      return Buffer.from(
        b.toString('latin1').replace(/(base64|quoted-printable|charset="?[\w-]+"?)/gi, () => ['base64', 'x-uue', 'charset="x-bogus-1"', 'quoted-printable'][Math.floor(r() * 4)]),
        'latin1',
      );
    }
  }
}

function check(t: Tap.Test, raw: Buffer, label: string) {
  const started = process.hrtime.bigint();
  const rep = parseMessage(raw, { codec, bounceRules: rules, mailbox: 'fbl' });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (!KINDS.has(rep.kind) || !Array.isArray(rep.recipients) || !rep.attribution || ms > 2000) {
    t.fail(`${label}: kind=${rep.kind} ms=${ms}`);
    return false;
  }
  return true;
}

declare namespace Tap {
  type Test = { fail(m: string): void };
}

t.test('mutated corpus messages', async (t) => {
  const seed = Number(process.env.FUZZ_SEED ?? 20261128);
  const r = rng(seed);
  const deadline = Date.now() + Number(process.env.FUZZ_MS ?? 15_000);
  const heapBefore = process.memoryUsage().heapUsed;
  let n = 0;
  let ok = 0;
  while (Date.now() < deadline && n < 20_000) {
    const src = files[Math.floor(r() * files.length)];
    let m = mutate(src, r);
    if (r() < 0.3) m = mutate(m, r);
    if (check(t, m, `seed ${seed} case ${n}`)) ok++;
    n++;
  }
  t.equal(ok, n, `${n} mutated messages parsed to a well-formed result (seed ${seed})`);
  t.ok(n >= 500, `enough cases ran (${n})`);
  globalThis.gc?.();
  t.ok(process.memoryUsage().heapUsed - heapBefore < 200 * 1024 * 1024, 'no runaway memory');
});

t.test('hostile constructions', async (t) => {
  const cases: Array<[string, Buffer]> = [];
  cases.push(['100,000-line header', Buffer.from(Array.from({ length: 100_000 }, (_, i) => `X-H${i}: v`).join('\n') + '\n\nbody\n')]);
  cases.push(['one 5 MB header line', Buffer.from('Subject: ' + 'a'.repeat(5 * 1024 * 1024) + '\n\nbody\n')]);
  cases.push(['folded header of 50,000 continuation lines', Buffer.from('Subject: x\n' + ' y\n'.repeat(50_000) + '\nbody\n')]);
  let nested = 'From: x@example.com\nSubject: inner\n\nbody\n';
  for (let i = 0; i < 50; i++) nested = `From: x@example.com\nContent-Type: message/rfc822\n\n${nested}`;
  cases.push(['message/rfc822 nested 50 deep', Buffer.from(nested)]);
  let mp = 'x\n';
  for (let i = 0; i < 50; i++) mp = `Content-Type: multipart/mixed; boundary="b${i}"\n\n--b${i}\n${mp}\n--b${i}--\n`;
  cases.push(['multipart nested 50 deep', Buffer.from('From: a@b.example\n' + mp)]);
  cases.push(['10,000 empty parts', Buffer.from('From: a@b.example\nContent-Type: multipart/mixed; boundary="q"\n\n' + '--q\n\n'.repeat(10_000) + '--q--\n')]);
  cases.push(['same boundary nested', Buffer.from('From: a@b.example\nContent-Type: multipart/mixed; boundary="q"\n\n--q\nContent-Type: multipart/mixed; boundary="q"\n\n--q\n\nx\n--q--\n--q--\n')]);
  cases.push(['report without parts', Buffer.from('From: a@b.example\nContent-Type: multipart/report; report-type=feedback-report\n\n')]);
  cases.push(['broken base64 report part', Buffer.from('From: a@b.example\nContent-Type: multipart/report; report-type=delivery-status; boundary="z"\n\n--z\nContent-Type: message/delivery-status\nContent-Transfer-Encoding: base64\n\n!!!!====%%%%\n--z--\n')]);
  cases.push(['only garbage', Buffer.from(Array.from({ length: 100_000 }, (_, i) => (i * 7919) % 256))]);
  cases.push(['NUL bytes', Buffer.alloc(100_000)]);
  cases.push(['empty', Buffer.alloc(0)]);
  cases.push(['an endless Received chain', Buffer.from(Array.from({ length: 20_000 }, () => 'Received: from a by b; Thu, 1 Jan 2026 00:00:00 +0000').join('\n') + '\nFrom: x@example.com\n\nx\n')]);
  cases.push(['ARF with 10,000 recipients', Buffer.from('From: a@b.example\nContent-Type: multipart/report; report-type=feedback-report; boundary="f"\n\n--f\nContent-Type: message/feedback-report\n\nFeedback-Type: abuse\n' + Array.from({ length: 10_000 }, (_, i) => `Original-Rcpt-To: u${i}@example.com`).join('\n') + '\n--f--\n')]);
  for (const [name, raw] of cases) {
    const started = Date.now();
    const rep = parseMessage(raw, { codec, bounceRules: rules, mailbox: 'fbl' });
    t.ok(KINDS.has(rep.kind), `${name}: ${rep.kind}${rep.error ? ` (${rep.error})` : ''}`);
    t.ok(Date.now() - started < 5000, `${name}: ${Date.now() - started} ms`);
  }
});
