/** Account standing as the admin API shows it, and the admin's changes to it. */
import type { Clock } from './clock.js';
import type { Config } from './config/schema.js';
import { event } from './effects.js';
import { GatewayError } from './errors.js';
import type { Store } from './store/store.js';

export class Accounts {
  constructor(
    private readonly store: Store,
    private readonly rates: Config['rates'],
    private readonly clock: Clock,
    private readonly vetting?: { latest(account: string): Promise<unknown> },
  ) {}

  async get(account: string) {
    const now = this.clock.now();
    const [email, sms, vetting] = await Promise.all([
      this.store.readAccount(account, 'email', now),
      this.store.readAccount(account, 'sms', now),
      this.vetting?.latest(account) ?? Promise.resolve(undefined),
    ]);
    const { meta } = email;
    const pool = meta.pool === 'dedicated' ? 'dedicated' : 'shared';
    const status = meta.suspended === '1' ? 'suspended' : email.warnings.length > 0 ? 'warned' : 'active';
    const thresholds = this.rates.complaint[pool];
    const figures = (w: (typeof email.windows)[number]) => ({
      window: w.name,
      sent: w.sent,
      complaints: w.complaints,
      complaintRate: w.sent ? w.complaints / w.sent : null,
      // Complaints from reporters we could not authenticate: recorded, not in the rate.
      unverifiedComplaints: w.unverifiedComplaints,
      hardBounces: w.hardBounces,
      bounceRate: w.sent ? w.hardBounces / w.sent : null,
    });
    return {
      account,
      status,
      pool,
      createdAt: meta.createdAt ? new Date(Number(meta.createdAt)).toISOString() : null,
      requireWitnessedConsent: meta.requireWitnessedConsent === '1',
      suspendedAt: meta.suspendedAt ? new Date(Number(meta.suspendedAt)).toISOString() : null,
      suspendReason: meta.suspendReason ?? null,
      thresholds: { complaint: thresholds, bounce: this.rates.bounce, minVolume: this.rates.minVolume },
      windows: email.windows.map(figures),
      sms: sms.windows.map(figures),
      warnings: email.warnings.map((t) => new Date(t).toISOString()),
      /** The latest vetting result (POST /v1/accounts/{account}/vetting); null: never vetted. */
      vetting: vetting ?? null,
    };
  }

  async setMeta(account: string, m: { pool?: string; createdAt?: string; requireWitnessedConsent?: boolean }): Promise<void> {
    const fields: Record<string, string> = {};
    if (m.requireWitnessedConsent !== undefined) fields.requireWitnessedConsent = m.requireWitnessedConsent ? '1' : '0';
    if (m.pool) fields.pool = m.pool;
    if (m.createdAt) fields.createdAt = String(Date.parse(m.createdAt));
    await this.store.setAccountMeta(account, fields);
  }

  async reinstate(account: string, note: string | null): Promise<void> {
    const now = this.clock.now();
    const ok = await this.store.reinstate(account, event('account.reinstated', now, { account, note }));
    if (!ok) throw new GatewayError('NOT_SUSPENDED', `Account ${account} is not suspended`);
  }
}
