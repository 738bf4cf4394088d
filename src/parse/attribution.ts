/**
 * Which account and campaign a reported message belongs to (contracts.md, "Attribution
 * tokens"). Pure. In order of trust:
 *
 * 1. a token in the original's headers: the configured token header, List-Unsubscribe,
 *    then any header value (some ISPs rename headers they do not know);
 * 2. a long token in the original's body (the footer link `https://<host>/u/<token>`), for
 *    reports that lost the headers: inline forwards, pastes;
 * 3. the short VERP token in the original's Return-Path (or the report's
 *    Original-Mail-From, or the address the report was sent to);
 * 4. Google's `Feedback-ID: a:b:c:SenderId` — unsigned, so never `verified`;
 * 5. none.
 *
 * Tokens are authenticated by the codec: a forged or altered one is simply not found.
 * `tokenState` tells the abuse desk apart "no token" from "a token that does not verify".
 */
import { firstAddress } from '../address.js';
import type { HeaderList } from './mime.js';
import type { Attribution } from './report.js';
import type { TokenClaims, TokenCodec } from '../token/token.js';

export const DEFAULT_TOKEN_HEADER = 'X-Abuse-Token';

export interface AttributionInput {
  /** The original message's header fields (null when the report lost them). */
  headers?: HeaderList | null;
  /** Text of the original's body, or of the whole report when the original is pasted in it. */
  bodyText?: string | (() => string) | null;
  /** Further envelope-sender addresses to look for a VERP token in, after the Return-Path. */
  envelopeAddresses?: Array<string | null | undefined>;
  /** The token of the address the report was delivered to (`bounces+TOKEN@`). */
  envelopeToken?: string | null;
  /** Feedback-ID value; taken from `headers` when left undefined. */
  feedbackId?: string | null;
  /** Without a codec nothing verifies: only Feedback-ID can attribute. */
  codec?: TokenCodec;
  tokenHeader?: string;
}

export interface AttributionResult {
  attribution: Attribution;
  /** The recipient a long token names (its address is in no header an ISP could hash). */
  recipient: string | null;
}

const NONE: Attribution = Object.freeze({ account: null, campaign: null, verified: false, via: 'none' }) as Attribution;
const ID_RE = /^[A-Za-z0-9._-]{1,64}$/;
const ANGLE_OR_SPACE = /[<>\s"']/g;

export function attribute(input: AttributionInput): AttributionResult {
  const { codec, headers } = input;
  if (codec) {
    const fromToken = headers ? tokenInHeaders(headers, codec, input.tokenHeader ?? DEFAULT_TOKEN_HEADER) : null;
    if (fromToken) return fromClaims(fromToken, 'token');

    const body = typeof input.bodyText === 'function' ? input.bodyText() : input.bodyText;
    if (body) {
      const found = codec.findInText(body);
      if (found.length > 0) return fromClaims(found[0], 'token');
    }

    const addresses = [headers?.text('return-path'), ...(input.envelopeAddresses ?? [])];
    for (const a of addresses) {
      const claims = a ? verpClaims(a, codec) : null;
      if (claims) return fromClaims(claims, 'verp');
    }
    if (input.envelopeToken) {
      const claims = codec.verify(input.envelopeToken.trim());
      if (claims) return fromClaims(claims, 'verp');
    }
  }

  const fid = input.feedbackId !== undefined ? input.feedbackId : headers?.get('feedback-id');
  const parsed = fid ? parseFeedbackId(fid) : null;
  if (parsed) {
    return {
      attribution: { account: parsed.account, campaign: parsed.campaign, verified: false, via: 'feedback-id' },
      recipient: null,
    };
  }
  return { attribution: { ...NONE }, recipient: null };
}

function fromClaims(c: TokenClaims, via: 'token' | 'verp'): AttributionResult {
  return {
    attribution: { account: c.account, campaign: c.campaign || null, verified: true, via },
    recipient: c.recipient ?? null,
  };
}

function tokenInHeaders(h: HeaderList, codec: TokenCodec, tokenHeader: string): TokenClaims | null {
  for (const v of h.getAll(tokenHeader)) {
    // Folding may have put spaces inside; some relays wrap the value in brackets or quotes.
    const claims = codec.verify(v.replace(ANGLE_OR_SPACE, '')) ?? codec.findInText(v)[0];
    if (claims) return claims;
  }
  for (const v of h.getAll('list-unsubscribe')) {
    const found = codec.findInText(v);
    if (found.length > 0) return found[0];
  }
  // Any other header: an ISP may rename a field it does not know (X-Original-…).
  const rest: string[] = [];
  const th = tokenHeader.toLowerCase();
  for (const [name, value] of h.fields) if (name !== th && name !== 'list-unsubscribe') rest.push(value);
  const found = codec.findInText(rest.join('\n'));
  return found.length > 0 ? found[0] : null;
}

/** The token of a VERP address `prefix+TOKEN@domain`, verified; null otherwise. */
function verpClaims(address: string, codec: TokenCodec): TokenClaims | null {
  // The exact address or nothing (address.ts): a linear scan, where a regex over a 60 KB
  // Return-Path took seconds.
  const exact = firstAddress(address);
  if (!exact) return null;
  const local = exact.slice(0, exact.lastIndexOf('@'));
  const plus = local.indexOf('+');
  if (plus < 0) return null;
  const tail = local.slice(plus + 1);
  const claims = codec.verify(tail);
  if (claims) return claims;
  const last = local.lastIndexOf('+');
  return last > plus ? codec.verify(local.slice(last + 1)) : null;
}

/** The VERP token of an address (`bounces+TOKEN@domain` → TOKEN), unverified; null if none. */
export function verpToken(address: string): string | null {
  const exact = firstAddress(address);
  if (!exact) return null;
  const local = exact.slice(0, exact.lastIndexOf('@'));
  const plus = local.indexOf('+');
  return plus < 0 || plus === local.length - 1 ? null : local.slice(plus + 1);
}

/**
 * Google's Feedback-ID, `a:b:c:SenderId` (campaign : customer : mail type : sender): the
 * platform stamps `<campaign>:<account>:<type>:<sender>`; three fields are
 * `<campaign>:<account>:<sender>`. Fewer fields name no account. Not authenticated.
 */
export function parseFeedbackId(value: string): { account: string; campaign: string | null } | null {
  const parts = value.trim().split(':').map((p) => p.trim());
  if (parts.length < 3 || parts.length > 4) return null;
  const [campaign, account] = parts;
  if (!ID_RE.test(account)) return null;
  return { account, campaign: ID_RE.test(campaign) ? campaign : null };
}

/**
 * Whether the original carries something in the place and shape of one of our tokens: a
 * value in the token header (or an ISP's renamed copy of it), an unsubscribe link
 * `/u/1…`, or a base32 VERP tail in the Return-Path. Says nothing about authenticity.
 */
export function tokenShaped(headers: HeaderList | null | undefined, bodyText: string | null | undefined, tokenHeader: string = DEFAULT_TOKEN_HEADER): boolean {
  const th = tokenHeader.toLowerCase();
  if (headers) {
    for (const [name, value] of headers.fields) {
      if ((name === th || name.endsWith('-' + th)) && value.trim() !== '') return true;
      if (LINK_SHAPE.test(value)) return true;
    }
    for (const rp of headers.getAll('return-path')) {
      const tail = verpToken(rp);
      if (tail && SHORT_SHAPE.test(tail)) return true;
    }
  }
  return !!bodyText && LINK_SHAPE.test(bodyText.length > MAX_SHAPE_SCAN ? bodyText.slice(0, MAX_SHAPE_SCAN) : bodyText);
}

/** A long token in the unsubscribe path, also URL-encoded by a link-rewriting gateway. */
const LINK_SHAPE = /(?:\/|%2F)u(?:\/|%2F)1[a-z2-7][A-Za-z0-9_-]{20,}/i;
const SHORT_SHAPE = /^[a-z2-7]{15,}$/i;
const MAX_SHAPE_SCAN = 1024 * 1024;

/** valid: an authenticated token or VERP address named the account; forged: something token-shaped did not verify. */
export function tokenState(attribution: Attribution, shaped: () => boolean): 'valid' | 'forged' | 'missing' {
  if (attribution.verified) return 'valid';
  return shaped() ? 'forged' : 'missing';
}
