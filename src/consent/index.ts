/**
 * Double opt-in witnessed by us. The platform asks for a confirmation link when someone
 * signs up; the person opens it and presses Confirm; we record what we saw (their IP, user
 * agent, the time) beside what the platform stated about the sign-up. When that person
 * later says "I never signed up", the desk sees a confirmation the accused party could not
 * have forged. A GET of the link changes nothing: mail scanners and link previewers follow
 * links (as for RFC 8058 one-click, §3.2).
 */
import { createHash } from 'node:crypto';
import { type Channel, normaliseAddress } from '../address.js';
import type { Clock } from '../clock.js';
import { event } from '../effects.js';
import { ConsentStore } from '../store/consents.js';
import type { Store } from '../store/store.js';
import type { ConsentClaims, ConsentCodec } from '../token/consent.js';

export interface ConsentRequest {
  account: string;
  list?: string;
  channel: Channel;
  address?: string;
  phone?: string;
  source: { ip: string; userAgent?: string; formUrl?: string; at?: string };
}

export type LinkState = { state: 'valid'; claims: ConsentClaims } | { state: 'expired'; claims: ConsentClaims } | { state: 'invalid' };

export interface ConsentView {
  account: string;
  channel: Channel;
  address: string;
  /** True when we witnessed a double opt-in confirmation; false when only the platform's claim is on record. */
  witnessed: boolean;
  proof: Record<string, unknown> | null;
  claim: Record<string, unknown> | null;
  /** The consent ended: the recipient unsubscribed or complained after (the proof stays: it is evidence). */
  withdrawn: { reason: string; at: string } | null;
}

/** Suppression reasons that withdraw a consent. */
const WITHDRAWING = new Set(['unsubscribe', 'complaint', 'sms-stop']);

export class Consents {
  readonly store: ConsentStore;

  constructor(
    private readonly main: Store,
    private readonly codec: ConsentCodec | null,
    private readonly cfg: { publicUrl: string; confirmDays: number },
    private readonly clock: Clock,
  ) {
    this.store = new ConsentStore(main.redis, main.keys, main.outboxFlag);
  }

  get enabled(): boolean {
    return this.codec !== null;
  }

  /** A link for the person to confirm with; null recipient when the address or number is not valid. */
  request(r: ConsentRequest): { token: string; url: string; expiresAt: string } | null {
    const recipient = normaliseAddress((r.channel === 'sms' ? r.phone : r.address) ?? '', r.channel);
    if (!recipient || !this.codec) return null;
    const now = this.clock.now();
    const token = this.codec.mint({
      account: r.account,
      list: r.list ?? null,
      channel: r.channel,
      recipient,
      requestedAt: now,
      source: { ip: r.source.ip, userAgent: r.source.userAgent ?? null, formUrl: r.source.formUrl ?? null, at: r.source.at ?? null },
    });
    return { token, url: `${this.cfg.publicUrl.replace(/\/$/, '')}/c/${token}`, expiresAt: new Date(now + this.cfg.confirmDays * 86_400_000).toISOString() };
  }

  check(token: string): LinkState {
    const claims = this.codec?.open(token) ?? null;
    if (!claims) return { state: 'invalid' };
    return this.clock.now() - claims.requestedAt > this.cfg.confirmDays * 86_400_000 ? { state: 'expired', claims } : { state: 'valid', claims };
  }

  /** Records the confirmation once; a second POST of the same link is 'already'. */
  async confirm(token: string, witness: { ip: string; userAgent: string | null }): Promise<{ state: 'confirmed' | 'already'; claims: ConsentClaims } | { state: 'expired' | 'invalid' }> {
    const link = this.check(token);
    if (link.state !== 'valid') return { state: link.state };
    const c = link.claims;
    const now = this.clock.now();
    const at = new Date(now).toISOString();
    // One request, one id: the same link confirmed twice is recognised, a new sign-up's link is not.
    const requestId = createHash('sha256').update(token).digest('base64url').slice(0, 22);
    const proof = {
      account: c.account,
      channel: c.channel,
      address: c.recipient,
      list: c.list,
      witnessed: true,
      requestId,
      request: { ip: c.source.ip, userAgent: c.source.userAgent, formUrl: c.source.formUrl, at: c.source.at, requestedAt: new Date(c.requestedAt).toISOString() },
      confirmation: { ip: witness.ip, userAgent: witness.userAgent, at },
    };
    const recorded = await this.store.confirm(
      c.account,
      c.channel,
      c.recipient,
      requestId,
      proof,
      event('consent.confirmed', now, { account: c.account, channel: c.channel, address: c.recipient, list: c.list, confirmedAt: at, ip: witness.ip, requestedAt: proof.request.requestedAt }),
    );
    return { state: recorded ? 'confirmed' : 'already', claims: c };
  }

  /** The proof for a recipient, witnessed or claimed, with its withdrawal when there was one. */
  async view(account: string, channel: Channel, address: string): Promise<ConsentView | null> {
    const [{ witnessed, claimed }, sup] = await Promise.all([this.store.get(account, channel, address), this.main.getSuppression(account, channel, address)]);
    if (!witnessed && !claimed) return null;
    const withdrawn = sup && WITHDRAWING.has(sup.reason) ? { reason: sup.reason, at: sup.at } : null;
    return { account, channel, address, witnessed: witnessed !== null, proof: witnessed, claim: claimed, withdrawn };
  }
}
