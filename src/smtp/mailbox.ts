/** Which of our mailboxes an envelope recipient names (pure). */

export type Mailbox = 'fbl' | 'abuse' | 'bounces' | 'unsubscribe';

export interface MailboxConfig {
  domains: readonly string[];
  mailboxes: { readonly fbl: string; readonly abuse: string; readonly bounces: string; readonly unsubscribe: string };
}

export interface MailboxTarget {
  mailbox: Mailbox;
  /** The VERP token after `+`, for bounces+TOKEN@ and unsubscribe+TOKEN@. */
  token?: string;
}

/**
 * Local parts compare case-insensitively: RFC 5321 §2.4 lets the receiver decide, and
 * MTAs on the way lowercase VERP addresses. The token keeps its case (short tokens are
 * lower case by design; long ones are case-sensitive).
 */
export function resolveMailbox(address: string, cfg: MailboxConfig): MailboxTarget | null {
  const at = address.lastIndexOf('@');
  if (at <= 0) return null;
  const domain = address.slice(at + 1).toLowerCase().replace(/\.$/, '');
  if (!cfg.domains.some((d) => d.toLowerCase() === domain)) return null;
  const local = address.slice(0, at);
  const plus = local.indexOf('+');
  const base = (plus < 0 ? local : local.slice(0, plus)).toLowerCase();
  const token = plus < 0 ? undefined : local.slice(plus + 1);
  const m = cfg.mailboxes;
  if (token === undefined) {
    if (base === m.fbl.toLowerCase()) return { mailbox: 'fbl' };
    if (base === m.abuse.toLowerCase()) return { mailbox: 'abuse' };
    return null;
  }
  if (token === '') return null;
  if (base === m.bounces.toLowerCase()) return { mailbox: 'bounces', token };
  if (base === m.unsubscribe.toLowerCase()) return { mailbox: 'unsubscribe', token };
  return null;
}
