/**
 * Property test over the policy protocol: random bytes and mutated real requests, split
 * into random chunks, never throw, never hold more than the request limit, and every
 * request either parses or names why it did not.
 */
import t from 'tap';
import { rng } from '../helpers/rng.js';
import { parseRequest, RequestFramer } from '../../src/policy/protocol.js';

const GOOD = [
  'request=smtpd_access_policy',
  'protocol_state=RCPT',
  'protocol_name=ESMTP',
  'client_address=192.0.2.1',
  'helo_name=mta.example',
  'queue_id=8045F2AB23',
  'sender=bounces+abcdefghijklmnop@bounce.example',
  'recipient=user@example.org',
  'sasl_username=',
  '',
  '',
].join('\n');

t.test('mutated and random policy streams', async (t) => {
  const r = rng(Number(process.env.FUZZ_SEED ?? 42));
  const limit = 4096;
  let requests = 0;
  let malformed = 0;
  for (let round = 0; round < 3000; round++) {
    let bytes = Buffer.from(GOOD.repeat(1 + Math.floor(r() * 5)));
    const m = Math.floor(r() * 5);
    if (m === 0) for (let i = 0; i < 1 + r() * 20; i++) bytes[Math.floor(r() * bytes.length)] = Math.floor(r() * 256);
    else if (m === 1) bytes = Buffer.from(Array.from({ length: Math.floor(r() * 6000) }, () => Math.floor(r() * 256)));
    else if (m === 2) bytes = Buffer.concat([bytes, Buffer.from('x='.padEnd(Math.floor(r() * 9000), 'y'))]);
    else if (m === 3) bytes = Buffer.from(bytes.toString().replace(/\n/g, () => (r() < 0.5 ? '\r\n' : '\n')));
    const framer = new RequestFramer(limit);
    let pos = 0;
    while (pos < bytes.length) {
      const n = 1 + Math.floor(r() * 700);
      for (const ev of framer.push(bytes.subarray(pos, pos + n))) {
        if (ev.kind === 'oversize') {
          malformed++;
          continue;
        }
        // Characters ≤ raw bytes (invalid UTF-8 decodes to U+FFFD, one character a byte).
        if (ev.text.length > limit) t.fail(`a request over the limit was framed (${ev.text.length} characters)`);
        const p = parseRequest(ev.text);
        requests++;
        if (!p.ok) {
          malformed++;
          if (typeof p.reason !== 'string' || typeof p.detail !== 'string') t.fail('a malformed request without a reason');
        }
      }
      pos += n;
    }
  }
  t.ok(requests > 1000, `${requests} requests framed`);
  t.ok(malformed > 100, `${malformed} malformed ones named`);
});
