/**
 * Standard Webhooks signing and verification (https://www.standardwebhooks.com, "Signature
 * scheme"): the signed content is `${id}.${timestamp}.${body}`, HMAC-SHA256 keyed with the
 * base64-decoded part of a `whsec_` secret; `webhook-signature` carries space-separated
 * `v1,<base64>` entries, one per secret while a secret is being rotated. Pure: no I/O.
 */
import { createHmac, type KeyObject, timingSafeEqual } from 'node:crypto';

/** Receivers reject timestamps further than this from their clock (replay protection). */
export const DEFAULT_TOLERANCE_SECONDS = 5 * 60;

export class SecretError extends Error {
  readonly code = 'WEBHOOK_SECRET';
}

/** `whsec_<base64>` → key bytes. The prefix is optional, as in the reference libraries. */
export function decodeSecret(secret: string): Buffer {
  const b64 = secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) throw new SecretError('webhook secret must be whsec_ followed by base64');
  const key = Buffer.from(b64, 'base64');
  if (key.length === 0) throw new SecretError('webhook secret is empty');
  return key;
}

/** One or more secrets separated by white space (a rotation signs with each). */
export function decodeSecrets(secrets: string): Buffer[] {
  const parts = secrets.trim().split(/\s+/).filter(Boolean);
  if (parts.length === 0) throw new SecretError('no webhook secret');
  return parts.map(decodeSecret);
}

/** `v1,<base64 HMAC-SHA256 of id.timestamp.body>`. */
export function sign(key: Buffer | KeyObject, id: string, timestamp: number, body: string | Buffer): string {
  const mac = createHmac('sha256', key).update(`${id}.${timestamp}.`).update(body).digest('base64');
  return `v1,${mac}`;
}

export interface WebhookHeaders {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
}

/** The three headers of one delivery attempt; `timestamp` in seconds since the epoch. */
export function signedHeaders(keys: readonly (Buffer | KeyObject)[], id: string, timestamp: number, body: string | Buffer): WebhookHeaders {
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': keys.map((k) => sign(k, id, timestamp, body)).join(' '),
  };
}

export interface VerifyInput {
  /** Key bytes, or whsec_ secrets (space-separated in one string is fine). */
  secrets: readonly Buffer[] | string;
  id: string;
  timestamp: string;
  signature: string;
  body: string | Buffer;
  /** Receiver's clock, seconds; default now. */
  now?: number;
  /** Seconds; 0 skips the timestamp check (e.g. checking a logged request later). */
  tolerance?: number;
}

export type VerifyResult = { ok: true } | { ok: false; reason: string };

/** Checks a delivery as a receiver does: any one v1 signature by any one secret passes. */
export function verify(input: VerifyInput): VerifyResult {
  const keys = typeof input.secrets === 'string' ? decodeSecrets(input.secrets) : input.secrets;
  if (!input.id) return { ok: false, reason: 'missing webhook-id' };
  if (!/^\d{1,12}$/.test(input.timestamp)) return { ok: false, reason: 'webhook-timestamp is not seconds since the epoch' };
  const ts = Number(input.timestamp);
  const tolerance = input.tolerance ?? DEFAULT_TOLERANCE_SECONDS;
  if (tolerance > 0) {
    const now = input.now ?? Math.floor(Date.now() / 1000);
    if (ts < now - tolerance) return { ok: false, reason: 'timestamp too old' };
    if (ts > now + tolerance) return { ok: false, reason: 'timestamp too far in the future' };
  }
  const offered: Buffer[] = [];
  for (const part of input.signature.trim().split(/\s+/)) {
    const comma = part.indexOf(',');
    // Other schemes (v1a: asymmetric) may stand next to v1; they are not ours to check.
    if (comma < 0 || part.slice(0, comma) !== 'v1') continue;
    offered.push(Buffer.from(part.slice(comma + 1), 'base64'));
  }
  if (offered.length === 0) return { ok: false, reason: 'no v1 signature' };
  for (const key of keys) {
    const expected = Buffer.from(sign(key, input.id, ts, input.body).slice(3), 'base64');
    for (const o of offered) {
      if (o.length === expected.length && timingSafeEqual(o, expected)) return { ok: true };
    }
  }
  return { ok: false, reason: 'no matching signature' };
}
