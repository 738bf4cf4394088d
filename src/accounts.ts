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
      // Which evidence rule suspended it and the report ids it rests on (rules/evidence.ts).
      suspendRule: meta.suspendRule ?? null,
      suspendEvidence: meta.suspendEvidence ? evidenceIds(meta.suspendEvidence) : null,
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

  /**
   * A reviewer's suspension (the desk console): the same guarded step and event as every
   * other suspension, reason `investigation` (the customer's guidance says the desk is
   * looking); the reviewer's words and name go in the event and the audit.
   */
  async suspend(account: string, note: string, by: string): Promise<boolean> {
    const now = this.clock.now();
    const suspended = await this.store.suspendForInvestigation(account, 'email', now, Math.max(...this.rates.windowHours), { account, kind: 'desk', note, by });
    await this.store.audit({ action: 'account.suspend', account, by, note, at: new Date(now).toISOString(), result: suspended ? 'suspended' : 'already' });
    return suspended;
  }

  async reinstate(account: string, note: string | null, by: string): Promise<void> {
    const now = this.clock.now();
    const ok = await this.store.reinstate(account, event('account.reinstated', now, { account, note }));
    if (!ok) throw new GatewayError('NOT_SUSPENDED', `Account ${account} is not suspended`);
    await this.store.audit({ action: 'account.reinstate', account, by, note: note ?? '', at: new Date(now).toISOString() });
  }
}

/** Lua's cjson writes an empty list as {}. */
function evidenceIds(json: string): string[] {
  const v: unknown = JSON.parse(json);
  return Array.isArray(v) ? v.map(String) : [];
}
