import { randomBytes } from 'node:crypto';

const B32 = '0123456789abcdefghjkmnpqrstvwxyz'; // Crockford base32, lower case

/**
 * A time-ordered id (ULID layout: 48-bit milliseconds, 80 random bits, 26 characters) so
 * that ids sort by arrival and need no coordination between gateway instances.
 */
export function newId(now: number): string {
  let out = '';
  let t = now;
  for (let i = 0; i < 10; i++) {
    out = B32[t % 32] + out;
    t = Math.floor(t / 32);
  }
  const r = randomBytes(10);
  // 80 bits → 16 characters of 5 bits each.
  let acc = 0;
  let bits = 0;
  for (const byte of r) {
    acc = (acc << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += B32[(acc >> bits) & 31];
    }
    acc &= (1 << bits) - 1;
  }
  return out;
}
