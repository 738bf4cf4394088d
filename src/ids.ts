import { randomFillSync } from 'node:crypto';

export const B32 = '0123456789abcdefghjkmnpqrstvwxyz'; // Crockford base32, lower case

/**
 * A time-ordered id (ULID layout: 48-bit milliseconds, 80 random bits, 26 characters) so
 * that ids sort by arrival and need no coordination between gateway instances.
 */
// Random bytes drawn from a pool refilled 4 KiB at a time: one call into the CSPRNG per
// ~400 ids instead of one per id (ids are minted for every message and event).
const pool = Buffer.alloc(4096);
let used = pool.length;
function random10(): Buffer {
  if (used + 10 > pool.length) {
    randomFillSync(pool);
    used = 0;
  }
  return pool.subarray(used, (used += 10));
}

export function newId(now: number): string {
  let out = '';
  let t = now;
  for (let i = 0; i < 10; i++) {
    out = B32[t % 32] + out;
    t = Math.floor(t / 32);
  }
  const r = random10();
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
