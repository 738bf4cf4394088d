/**
 * Campaign attribution tokens (contracts.md, "Attribution tokens"; docs/integration.md documents the
 * wire format with test vectors so that a sender in any language can mint them).
 *
 * Two forms, told apart by their first character ('1' is not in the base32 alphabet):
 *
 * - long  `1` kid base64url(nonce ‖ AES-256-GCM(account NUL campaign NUL recipient) ‖ tag)
 *   for `X-Abuse-Token` and the unsubscribe link `/u/<token>`. Encrypted, because some ISPs
 *   hash every address they can find in the headers. The nonce is a synthetic IV (an HMAC of
 *   the plaintext under a second key), so the same triple always gives the same token and the
 *   nonce doubles as a 96-bit MAC that verify checks after decryption.
 * - short kid mac11 tag4 payload, lower-case base32 only, for the VERP local part
 *   `bounces+<token>@domain`: MTAs may lowercase local parts and RFC 5321 §4.5.3.1.1 caps them
 *   at 64 octets. `tag` is 20 bits of a keyed hash of the recipient the mail went to, so a
 *   bounce to this address can only speak for that recipient (a DSN naming strangers is
 *   not believed for them); the 55-bit truncated HMAC covers kid, tag and payload. Not
 *   encrypted: the tag reveals nothing without the key.
 * - legacy short kid mac13 payload (no recipient tag): minted before recipient binding;
 *   verifies only until the transition date the codec is given (`legacyShortUntil`).
 *
 * Pure code, no I/O. Sub-keys are derived once per key id when the codec is built.
 */
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';

export class TokenError extends Error {
  readonly code: string;

  constructor(code: string, message: string) {
    super(message);
    this.name = 'TokenError';
    this.code = code;
  }
}

export interface CodecOptions {
  /**
   * Until when (ms since the epoch) legacy short tokens, which name no recipient, still
   * verify; null: never. Left out: always (the library default; the gateway passes its
   * configured transition date).
   */
  legacyShortUntil?: number | null;
  now?: () => number;
}

export interface TokenKeys {
  /** Key id that mints. */
  current: string;
  /** Every key here verifies; key id → secret (≥ 16 UTF-8 bytes; the gateway's configuration asks 32). */
  keys: Record<string, string>;
}

export interface TokenClaims {
  account: string;
  campaign: string;
  /** Only in long tokens. */
  recipient?: string;
  kid: string;
  form: 'long' | 'short';
  /** Bound short tokens: the recipient tag; absent in a legacy short token (bound to no one). */
  recipientTag?: string;
}

export interface TokenCodec {
  mintLong(c: { account: string; campaign: string; recipient: string }): string;
  /**
   * With a recipient: the recipient-bound short form; without: the legacy form (verifies
   * only during the transition). Throws TOKEN_TOO_LONG when `localPrefix + token` would
   * exceed 64 octets.
   */
  mintShort(c: { account: string; campaign: string; recipient?: string }, localPrefix?: string): string;
  /**
   * Whether verified claims speak for this recipient: a long token names it, a bound short
   * token carries its tag. A legacy short token speaks for no one.
   */
  boundTo(claims: TokenClaims, address: string): boolean;
  /** Claims of an authentic token, or null for anything else; never throws. */
  verify(token: string): TokenClaims | null;
  /**
   * Verified long tokens found in free text (header values, bodies, unsubscribe URLs), in
   * order of appearance, one per (account, campaign, recipient).
   */
  findInText(text: string): TokenClaims[];
}

/** RFC 4648 §6 base32 alphabet, lower case; a key id is one of these characters. */
const B32 = 'abcdefghijklmnopqrstuvwxyz234567';
/** What BigInt#toString(32) and parseInt(s, 32) use, position for position with B32. */
const RADIX32 = '0123456789abcdefghijklmnopqrstuv';
const B32_TO_RADIX32: Record<string, string> = {};
const RADIX32_TO_B32: Record<string, string> = {};
for (let i = 0; i < 32; i++) {
  B32_TO_RADIX32[B32[i]] = RADIX32[i];
  RADIX32_TO_B32[RADIX32[i]] = B32[i];
}

/** Short-form symbols: NUL (the separator) is 0, then the 65 id characters are 1..65. */
const ID_SYMBOLS = '\x00ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-';
const SYMBOL_VALUE = new Map<string, number>([...ID_SYMBOLS].map((ch, i) => [ch, i]));
const RADIX = 66n;
const CHUNK_DIGITS = 8;
const RADIX_CHUNK = RADIX ** BigInt(CHUNK_DIGITS);

const KID_RE = /^[a-z2-7]$/;
const ID_RE = /^[A-Za-z0-9._-]{1,64}$/;
const MAX_ID = 64;
const MAX_RECIPIENT_OCTETS = 320;
/** The codec's floor; a running gateway asks 32 (MIN_CONFIG_SECRET_OCTETS, config/load.ts). */
const MIN_SECRET_OCTETS = 16;
/** RFC 5321 §4.5.3.1.1. */
const MAX_LOCAL_PART_OCTETS = 64;
const DEFAULT_LOCAL_PREFIX = 'bounces+';

const NONCE_OCTETS = 12;
const TAG_OCTETS = 16;
const MIN_PLAINTEXT = 1 + 1 + 1 + 1 + 1;
const MAX_PLAINTEXT = MAX_ID + 1 + MAX_ID + 1 + MAX_RECIPIENT_OCTETS;
const MIN_LONG = 2 + Math.ceil(((NONCE_OCTETS + MIN_PLAINTEXT + TAG_OCTETS) * 4) / 3);
const MAX_LONG = 2 + Math.ceil(((NONCE_OCTETS + MAX_PLAINTEXT + TAG_OCTETS) * 4) / 3);
const B64URL_RE = /^[A-Za-z0-9_-]+$/;

const MAC_CHARS = 13; // 64 bits in radix 32 (legacy short form)
/** Bound short form: 55-bit MAC + 20-bit recipient tag keep 16-character ids within 64 octets. */
const BOUND_MAC_CHARS = 11;
const TAG_CHARS = 4;
/** Radix-32 digits of the largest payload: two 64-character ids and the separator. */
const MAX_PAYLOAD = (RADIX ** BigInt(2 * MAX_ID + 1) - 1n).toString(32).length;
const SHORT_RE = /^[A-Za-z2-7]+$/;

const utf8 = new TextDecoder('utf-8', { fatal: true });

interface DerivedKey {
  kid: string;
  enc: Buffer;
  siv: Buffer;
  short: Buffer;
  bound: Buffer;
  rcpt: Buffer;
  /** AAD of the long form: the ASCII bytes of '1' + kid. */
  aad: Buffer;
}

function derive(kid: string, secret: string): DerivedKey {
  const sub = (info: string): Buffer => Buffer.from(hkdfSync('sha256', secret, '', info, 32));
  return {
    kid,
    enc: sub('abusegate/v1/enc'),
    siv: sub('abusegate/v1/siv'),
    short: sub('abusegate/v1/short'),
    bound: sub('abusegate/v2/short'),
    rcpt: sub('abusegate/v2/recipient'),
    aad: Buffer.from('1' + kid, 'ascii'),
  };
}

function checkId(what: 'account' | 'campaign', id: unknown): string {
  if (typeof id !== 'string' || !ID_RE.test(id)) {
    const shown = typeof id === 'string' ? JSON.stringify(id.length > 80 ? id.slice(0, 80) + '…' : id) : typeof id;
    throw new TokenError('TOKEN_BAD_ID', `${what} id ${shown} must be 1–64 characters of [A-Za-z0-9._-]`);
  }
  return id;
}

function checkRecipient(r: unknown): string {
  // The address itself never goes into a message: it is personal data.
  if (typeof r !== 'string' || r.length === 0) {
    throw new TokenError('TOKEN_BAD_RECIPIENT', 'recipient must be a non-empty string');
  }
  const octets = Buffer.byteLength(r, 'utf8');
  if (octets > MAX_RECIPIENT_OCTETS) {
    throw new TokenError('TOKEN_BAD_RECIPIENT', `recipient is ${octets} octets; at most ${MAX_RECIPIENT_OCTETS} fit in a token`);
  }
  // A lone surrogate would be minted as U+FFFD and come back as a different string.
  if (Buffer.from(r, 'utf8').toString('utf8') !== r) {
    throw new TokenError('TOKEN_BAD_RECIPIENT', 'recipient is not well-formed Unicode (lone surrogate)');
  }
  return r;
}

function hmac(key: Buffer, data: Buffer | string): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

/** First 8 bytes of HMAC-SHA256(short key, 's' + kid + payload), 13 base32 digits, MSB first. */
function shortMac(k: DerivedKey, payload: string): string {
  const n = hmac(k.short, 's' + k.kid + payload).readBigUInt64BE(0);
  return toBase32Digits(n).padStart(MAC_CHARS, 'a');
}

/** 20 bits of HMAC(rcpt key, lower-cased normalised address): 4 base32 digits. */
function recipientTag(k: DerivedKey, address: string): string {
  const n = BigInt(hmac(k.rcpt, normaliseRecipient(address)).readUInt32BE(0) >>> 12);
  return toBase32Digits(n).padStart(TAG_CHARS, 'a');
}

/** 55 bits of HMAC-SHA256(bound key, 'b' + kid + tag + payload), 11 base32 digits. */
function boundMac(k: DerivedKey, tag: string, payload: string): string {
  const n = hmac(k.bound, 'b' + k.kid + tag + payload).readBigUInt64BE(0) >> 9n;
  return toBase32Digits(n).padStart(BOUND_MAC_CHARS, 'a');
}

/**
 * The form of an address the tag is computed over: trimmed, brackets dropped, lower case
 * (MTAs lowercase VERP and DSN addresses; the tag must survive that).
 */
function normaliseRecipient(address: string): string {
  let s = address.trim();
  if (s.startsWith('<') && s.endsWith('>')) s = s.slice(1, -1).trim();
  return s.toLowerCase();
}

function toBase32Digits(n: bigint): string {
  const r = n.toString(32);
  let out = '';
  for (let i = 0; i < r.length; i++) out += RADIX32_TO_B32[r[i]];
  return out;
}

/** Inverse of toBase32Digits; the caller has checked that `s` is in [a-z2-7]. */
function fromBase32Digits(s: string): bigint {
  let n = 0n;
  // 10 digits = 50 bits, exact in a double: one BigInt step per 10 digits.
  for (let i = 0; i < s.length; i += 10) {
    const chunk = s.slice(i, i + 10);
    let r = '';
    for (let j = 0; j < chunk.length; j++) r += B32_TO_RADIX32[chunk[j]];
    n = (n << BigInt(5 * chunk.length)) | BigInt(parseInt(r, 32));
  }
  return n;
}

function encodeIds(account: string, campaign: string): string {
  let n = 0n;
  for (const ch of account + '\x00' + campaign) n = n * RADIX + BigInt(SYMBOL_VALUE.get(ch)!);
  return toBase32Digits(n);
}

function decodeIds(payload: string): { account: string; campaign: string } | null {
  // Peel 8 radix-66 digits per BigInt division (66^8 < 2^53) and split them as doubles:
  // this runs for every bounce.
  let n = fromBase32Digits(payload);
  let s = '';
  while (n > 0n) {
    let chunk = Number(n % RADIX_CHUNK);
    n /= RADIX_CHUNK;
    for (let i = 0; i < CHUNK_DIGITS && (chunk > 0 || n > 0n); i++) {
      s = ID_SYMBOLS[chunk % 66] + s;
      chunk = Math.floor(chunk / 66);
    }
  }
  const sep = s.indexOf('\x00');
  if (sep < 0) return null;
  const account = s.slice(0, sep);
  const campaign = s.slice(sep + 1);
  if (!ID_RE.test(account) || !ID_RE.test(campaign)) return null;
  return { account, campaign };
}

/** verify never throws, whatever arrives. */
function safely(f: (t: string) => TokenClaims | null, t: string): TokenClaims | null {
  try {
    return f(t);
  } catch {
    return null;
  }
}

function safeEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

export function createTokenCodec(keys: TokenKeys, opts: CodecOptions = {}): TokenCodec {
  const legacyAllowed = (): boolean => opts.legacyShortUntil === undefined || (opts.legacyShortUntil !== null && (opts.now ?? Date.now)() < opts.legacyShortUntil);
  const bad = (msg: string): TokenError => new TokenError('TOKEN_BAD_SECRET', msg);
  if (keys === null || typeof keys !== 'object' || keys.keys === null || typeof keys.keys !== 'object') {
    throw bad('token keys must be {current, keys}');
  }
  const derived = new Map<string, DerivedKey>();
  for (const [kid, secret] of Object.entries(keys.keys)) {
    if (!KID_RE.test(kid)) throw bad(`token key id ${JSON.stringify(kid)} must be one character of [a-z2-7]`);
    if (typeof secret !== 'string' || Buffer.byteLength(secret, 'utf8') < MIN_SECRET_OCTETS) {
      throw bad(`token key '${kid}': the secret must be at least ${MIN_SECRET_OCTETS} bytes`);
    }
    derived.set(kid, derive(kid, secret));
  }
  const found = derived.get(keys.current);
  if (found === undefined) throw bad(`current token key ${JSON.stringify(keys.current)} is not among the keys`);
  const current: DerivedKey = found;

  function mintLong(c: { account: string; campaign: string; recipient: string }): string {
    const account = checkId('account', c.account);
    const campaign = checkId('campaign', c.campaign);
    const recipient = checkRecipient(c.recipient);
    const k = current;
    const plaintext = Buffer.from(`${account}\x00${campaign}\x00${recipient}`, 'utf8');
    const nonce = hmac(k.siv, plaintext).subarray(0, NONCE_OCTETS);
    const cipher = createCipheriv('aes-256-gcm', k.enc, nonce, { authTagLength: TAG_OCTETS });
    cipher.setAAD(k.aad);
    const ct = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return '1' + k.kid + Buffer.concat([nonce, ct, cipher.getAuthTag()]).toString('base64url');
  }

  function mintShort(c: { account: string; campaign: string; recipient?: string }, localPrefix: string = DEFAULT_LOCAL_PREFIX): string {
    const account = checkId('account', c.account);
    const campaign = checkId('campaign', c.campaign);
    const k = current;
    const payload = encodeIds(account, campaign);
    let token: string;
    if (c.recipient === undefined) token = k.kid + shortMac(k, payload) + payload;
    else {
      const tag = recipientTag(k, checkRecipient(c.recipient));
      token = k.kid + boundMac(k, tag, payload) + tag + payload;
    }
    const octets = Buffer.byteLength(localPrefix, 'utf8') + token.length;
    if (octets > MAX_LOCAL_PART_OCTETS) {
      throw new TokenError(
        'TOKEN_TOO_LONG',
        `short token for account ${JSON.stringify(account)} and campaign ${JSON.stringify(campaign)} makes the VERP local part ` +
          `${octets} octets, over the ${MAX_LOCAL_PART_OCTETS} that RFC 5321 allows; use shorter ids (16 characters each always fit)`,
      );
    }
    return token;
  }

  function verifyLong(token: string): TokenClaims | null {
    if (token.length < MIN_LONG || token.length > MAX_LONG) return null;
    const k = derived.get(token[1]);
    if (k === undefined) return null;
    const body = token.slice(2);
    if (!B64URL_RE.test(body)) return null;
    const raw = Buffer.from(body, 'base64url');
    // Node's decoder ignores the spare low bits of the last character: insist on the one
    // canonical spelling so that no character can change without failing.
    if (raw.toString('base64url') !== body) return null;
    const nonce = raw.subarray(0, NONCE_OCTETS);
    const ct = raw.subarray(NONCE_OCTETS, raw.length - TAG_OCTETS);
    const tag = raw.subarray(raw.length - TAG_OCTETS);
    let plaintext: Buffer;
    try {
      const decipher = createDecipheriv('aes-256-gcm', k.enc, nonce, { authTagLength: TAG_OCTETS });
      decipher.setAAD(k.aad);
      decipher.setAuthTag(tag);
      plaintext = Buffer.concat([decipher.update(ct), decipher.final()]);
    } catch {
      return null;
    }
    // The SIV check: the nonce must be the MAC of what it decrypted to.
    if (!safeEqual(hmac(k.siv, plaintext).subarray(0, NONCE_OCTETS), nonce)) return null;
    let text: string;
    try {
      text = utf8.decode(plaintext);
    } catch {
      return null;
    }
    const a = text.indexOf('\x00');
    const b = a < 0 ? -1 : text.indexOf('\x00', a + 1);
    if (b < 0) return null;
    const account = text.slice(0, a);
    const campaign = text.slice(a + 1, b);
    const recipient = text.slice(b + 1);
    if (!ID_RE.test(account) || !ID_RE.test(campaign) || recipient.length === 0) return null;
    return { account, campaign, recipient, kid: k.kid, form: 'long' };
  }

  function verifyShort(token: string): TokenClaims | null {
    if (token.length < 1 + BOUND_MAC_CHARS + TAG_CHARS + 1 || token.length > 1 + MAC_CHARS + MAX_PAYLOAD) return null;
    // Test before lowercasing: toLowerCase maps a few non-ASCII letters (U+212A KELVIN) to ASCII.
    if (!SHORT_RE.test(token)) return null;
    const t = token.toLowerCase();
    const k = derived.get(t[0]);
    if (k === undefined) return null;
    // The bound form first; a legacy token is tried only during the transition.
    const mac = t.slice(1, 1 + BOUND_MAC_CHARS);
    const tag = t.slice(1 + BOUND_MAC_CHARS, 1 + BOUND_MAC_CHARS + TAG_CHARS);
    const payload = t.slice(1 + BOUND_MAC_CHARS + TAG_CHARS);
    // A leading zero digit is never minted.
    if (payload[0] !== 'a' && safeEqual(Buffer.from(boundMac(k, tag, payload)), Buffer.from(mac))) {
      const ids = decodeIds(payload);
      return ids && { account: ids.account, campaign: ids.campaign, kid: k.kid, form: 'short', recipientTag: tag };
    }
    if (!legacyAllowed() || t.length < 1 + MAC_CHARS + 1) return null;
    const legacyMac = t.slice(1, 1 + MAC_CHARS);
    const legacyPayload = t.slice(1 + MAC_CHARS);
    if (legacyPayload[0] === 'a') return null;
    if (!safeEqual(Buffer.from(shortMac(k, legacyPayload)), Buffer.from(legacyMac))) return null;
    const ids = decodeIds(legacyPayload);
    if (ids === null) return null;
    return { account: ids.account, campaign: ids.campaign, kid: k.kid, form: 'short' };
  }

  function boundTo(claims: TokenClaims, address: string): boolean {
    if (claims.form === 'long') return claims.recipient !== undefined && normaliseRecipient(claims.recipient) === normaliseRecipient(address);
    const k = derived.get(claims.kid);
    return !!k && !!claims.recipientTag && recipientTag(k, address) === claims.recipientTag;
  }

  function verify(token: string): TokenClaims | null {
    if (typeof token !== 'string') return null;
    const t = token.trim();
    return safely(t[0] === '1' ? verifyLong : verifyShort, t);
  }

  function findInText(text: string): TokenClaims[] {
    const out: TokenClaims[] = [];
    if (typeof text !== 'string') return out;
    const seen = new Set<string>();
    let budget = MAX_VERIFY_ATTEMPTS;
    let from = 0;
    while (budget > 0) {
      const start = nextStart(text, from);
      if (start < 0) break;
      from = start + 1;
      const next = text[start + 1];
      if (!derived.has(next) && next !== '=' && next !== '\r' && next !== '\n') continue;
      const cand = gather(text, start);
      for (const [value, end] of cand) {
        if (value.length < MIN_LONG || !derived.has(value[1]) || budget-- <= 0) continue;
        const claims = safely(verifyLong, value);
        if (claims === null) continue;
        const key = `${claims.account}\x00${claims.campaign}\x00${claims.recipient}`;
        if (!seen.has(key)) {
          seen.add(key);
          out.push(claims);
        }
        from = end;
        break;
      }
    }
    return out;
  }

  return { mintLong, mintShort, boundTo, verify, findInText };
}

// --- finding long tokens in text -------------------------------------------------------------

/** Bounds the work a hostile text can cause in findInText. */
const MAX_VERIFY_ATTEMPTS = 2000;
const MAX_SEGMENTS = 16;
const TOKEN_CHAR_RE = /[A-Za-z0-9_-]/;
const RUN_RE = /[A-Za-z0-9_-]*/y;
/**
 * A line break inside a token: a soft line break of quoted-printable left undecoded
 * (RFC 2045 §6.7 rule 5), or a hard wrap by a mail client, either followed by indentation
 * or quote markers of a forward.
 */
const BREAK_RE = /=?\r?\n[ \t>]*/y;

function isTokenChar(ch: string | undefined): boolean {
  return ch !== undefined && TOKEN_CHAR_RE.test(ch);
}

/** Next '1' that starts a word: after `/u/`, a header colon, a bracket, space, or a line start. */
function nextStart(text: string, from: number): number {
  for (let i = text.indexOf('1', from); i >= 0; i = text.indexOf('1', i + 1)) {
    if (!isTokenChar(text[i - 1])) return i;
  }
  return -1;
}

/**
 * Candidate tokens starting at `start`, longest first, each with the offset just past it:
 * the run of token characters joined across line breaks, cut at each break (a wrapped line
 * may be followed by an ordinary word) and without trailing '-' or '_' (Markdown emphasis,
 * a dash after a link).
 */
function gather(text: string, start: number): Array<[string, number]> {
  const ends: Array<[string, number]> = [];
  let joined = '';
  let pos = start;
  for (let seg = 0; seg < MAX_SEGMENTS; seg++) {
    RUN_RE.lastIndex = pos;
    const run = RUN_RE.exec(text)![0];
    joined += run;
    pos += run.length;
    ends.push([joined, pos]);
    if (joined.length >= MAX_LONG) break;
    BREAK_RE.lastIndex = pos;
    const br = BREAK_RE.exec(text);
    if (br === null || !isTokenChar(text[pos + br[0].length])) break;
    pos += br[0].length;
  }
  const out: Array<[string, number]> = [];
  for (let i = ends.length - 1; i >= 0; i--) {
    const [value, end] = ends[i];
    out.push([value, end]);
    // A token may itself end in '-' or '_', so try each cut.
    for (let k = 1; k <= 3 && /[-_]/.test(value[value.length - k] ?? ''); k++) out.push([value.slice(0, -k), end]);
  }
  return out;
}

/**
 * `ABUSEGATE_TOKEN_SECRET`: a bare secret (key id `a`), or `kid:secret,kid:secret,…` where
 * the first mints and all verify. Surrounding whitespace is ignored.
 */
export function parseTokenSecrets(spec: string): TokenKeys {
  const bad = (msg: string): TokenError => new TokenError('TOKEN_BAD_SECRET', `ABUSEGATE_TOKEN_SECRET ${msg}`);
  if (typeof spec !== 'string' || spec.trim() === '') {
    throw bad('is empty: set a secret of at least 16 bytes, or kid:secret,kid:secret (the first mints)');
  }
  const s = spec.trim();
  const checkSecret = (secret: string, where: string): void => {
    const octets = Buffer.byteLength(secret, 'utf8');
    if (octets < MIN_SECRET_OCTETS) {
      throw bad(`${where} is ${octets} bytes; a secret needs at least ${MIN_SECRET_OCTETS}`);
    }
  };
  if (!s.includes(':')) {
    // "s1,s2" is much more likely a botched key list than a secret with a comma in it.
    if (s.includes(',')) throw bad("has ',' but no key ids: to list several keys write kid:secret,kid:secret (the first mints)");
    checkSecret(s, 'secret');
    return { current: 'a', keys: { a: s } };
  }
  const keys: Record<string, string> = {};
  let current = '';
  const entries = s.split(',');
  entries.forEach((raw, i) => {
    const entry = raw.trim();
    const where = entries.length > 1 ? `entry ${i + 1}` : 'the value';
    if (entry === '') throw bad(`${where} is empty (stray ',')`);
    if (entry[1] !== ':' || !KID_RE.test(entry[0])) {
      // Never echo the entry: it may be a secret.
      throw bad(`${where} is not kid:secret with kid one character of [a-z2-7] (a bare secret must not contain ':'; write a:<secret>)`);
    }
    const kid = entry[0];
    if (kid in keys) throw bad(`names key id '${kid}' twice`);
    const secret = entry.slice(2).trim();
    checkSecret(secret, `key '${kid}'`);
    keys[kid] = secret;
    if (i === 0) current = kid;
  });
  return { current, keys };
}
