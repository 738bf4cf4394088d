/**
 * Tracing an SMS report to the account that sent the text, through the recent-sends index
 * (pure: the caller looks the numbers up). The rule (docs/integration.md, "SMS: sends
 * index, tracing, inbound STOP"):
 *  - every account that texted one of the report's numbers within the window is a candidate;
 *  - a sender id or number in the report narrows them to the sends from that sender; when
 *    no send matches it, no candidate is confirmed (someone else may have sent it) and all
 *    are listed for the desk;
 *  - exactly one account left → it is the case's account (its newest matching send gives
 *    the campaign), `via: "number"`; several → all are listed, none is charged.
 */
import { sameSender } from '../phone.js';
import type { IndexedSend } from '../store/sms.js';

export interface SmsCandidate {
  account: string;
  campaign: string | null;
  number: string;
  sender: string | null;
  /** When the newest matching send was made (ISO). */
  lastSentAt: string;
  sends: number;
  /** Whether the report's sender matched this account's sends (null: the report named none). */
  senderMatched: boolean | null;
}

export interface SmsTrace {
  /** The one account traced, or null. */
  chosen: SmsCandidate | null;
  candidates: SmsCandidate[];
}

export function traceSms(found: ReadonlyArray<{ number: string; sends: readonly IndexedSend[] }>, reportSender: string | null): SmsTrace {
  const all = found.flatMap((f) => f.sends.map((s) => ({ ...s, number: f.number })));
  const matching = reportSender ? all.filter((s) => s.sender !== null && sameSender(s.sender, reportSender)) : all;
  const confirmed = matching.length > 0;
  const pool = confirmed ? matching : all;
  const byAccount = new Map<string, SmsCandidate>();
  for (const s of [...pool].sort((a, b) => b.at - a.at)) {
    const c = byAccount.get(s.account);
    if (c) {
      c.sends++;
      continue;
    }
    byAccount.set(s.account, {
      account: s.account,
      campaign: s.campaign,
      number: s.number,
      sender: s.sender,
      lastSentAt: new Date(s.at).toISOString(),
      sends: 1,
      senderMatched: reportSender ? confirmed : null,
    });
  }
  const candidates = [...byAccount.values()];
  const chosen = candidates.length === 1 && (confirmed || !reportSender) ? candidates[0] : null;
  return { chosen, candidates };
}
