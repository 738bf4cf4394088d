/**
 * What a free-form abuse report says (mail to abuse@): where the offending message is
 * (original.ts), its header fields, the mobile numbers of an SMS complaint (phones.ts),
 * whether it uses phishing language (phishing.ts), the domains its headers and links name
 * (domains.ts), and the files attached as evidence (attachments.ts). Pure.
 */
import { senderIdIn } from '../../phone.js';
import { addressesIn, firstAddress } from '../arf.js';
import type { HeaderList, MimePart } from '../mime.js';
import type { AttachmentEvidence } from '../report.js';
import { attachments } from './attachments.js';
import { domainOf, linkDomains, originDomains } from './domains.js';
import { locateOriginal, type OriginalFound } from './original.js';
import { phishingLanguage } from './phishing.js';
import { aboutSms, MAX_PHONE_TEXT, mobileNumbers } from './phones.js';
import { fold, readableText } from './text.js';
import { abuseWords } from './words.js';

export type { OriginalFound } from './original.js';

/** What a report adds to the case as evidence: the files attached, the domains the reported message links to. */
export interface Evidence {
  attachments: AttachmentEvidence[];
  linkDomains: string[];
}

export interface AbuseAnalysis extends Evidence {
  /** The report's From address. */
  reporter: string | null;
  original: HeaderList | null;
  originalFound: OriginalFound;
  channel: 'email' | 'sms';
  /** Mobile numbers of an SMS complaint (empty for email ones). */
  phones: string[];
  /** SMS: the sender id or number the reporter names (`from "PROMO"`), or null. */
  sender: string | null;
  phishing: boolean;
  phishingTerms: string[];
  originDomains: string[];
  /**
   * Written by a person and reads as a report: an SMS complaint, complaint language in the
   * reporter's words, or a message forwarded with nothing but "Fwd:".
   */
  looksLikeReport: boolean;
}

/** Mail a program wrote (RFC 3834 Auto-Submitted, a DSN or MDN, a mailer daemon): never a person's report. */
function automated(root: MimePart): boolean {
  const auto = (root.headers.get('auto-submitted') ?? 'no').trim().toLowerCase();
  if (auto !== '' && !auto.startsWith('no')) return true;
  if (root.type === 'multipart/report' || root.headers.has('x-failed-recipients')) return true;
  return /^(?:mailer-daemon|postmaster|mail-daemon|mailer)@/i.test(firstAddress(root.headers.get('from')) ?? '');
}

/** Analyses a message sent to abuse@ (or one that reads like it). */
export function analyseAbuse(root: MimePart, opts: { phoneRegion?: string; phoneRegions?: readonly string[] } = {}): AbuseAnalysis {
  const reporter = firstAddress(root.headers.get('from'));
  const subject = root.headers.decoded('subject') ?? '';
  const own = readableText(root, false);
  const located = locateOriginal(root, own, domainOf(reporter));
  const original = located.headers;

  // An SMS complaint: about a text message, naming a mobile number, and no e-mail original.
  const emailOriginal = !!original && ['from', 'return-path', 'sender'].some((n) => addressesIn(original.get(n)).length > 0);
  let phones: string[] = [];
  let channel: 'email' | 'sms' = 'email';
  let sender: string | null = null;
  if (!emailOriginal && aboutSms(subject + '\n' + own)) {
    // A national number is read in each region (src/phone.ts): one that is a mobile in
    // several stays as several candidates, for the trace by number to choose from.
    phones = [...new Set((opts.phoneRegions ?? [opts.phoneRegion ?? 'US']).flatMap((r) => mobileNumbers(subject + '\n' + own, r)))];
    if (phones.length > 0) {
      channel = 'sms';
      sender = senderIdIn(subject + '\n' + own);
    }
  }

  const origSubject = original?.decoded('subject') ?? '';
  const { phishing, terms } = phishingLanguage(subject, own, origSubject, located.found === 'attached' ? located.text : '');
  const words = subject + '\n' + located.words.slice(0, MAX_PHONE_TEXT);
  const w = abuseWords();
  const looksLikeReport = !automated(root) && (channel === 'sms' || w.complaintWords.test(fold(words)) || (located.found !== 'none' && w.forwardSubject.test(subject)));
  return {
    reporter,
    original,
    originalFound: located.found,
    channel,
    phones,
    sender,
    phishing,
    phishingTerms: terms,
    originDomains: originDomains(original),
    attachments: attachments(root),
    // The reported message's links: every text and HTML part of an attached original, the
    // forwarded text of an inline one; none when the report holds no original.
    linkDomains: linkDomains(located.part ? [readableText(located.part, false, true)] : located.found === 'inline' ? [located.text] : []),
    looksLikeReport,
  };
}

/** Phishing language, domains and evidence of the original of a feedback-loop report sent to abuse@. */
export function describeOriginal(
  root: MimePart,
  original: HeaderList | null,
  originalPart: MimePart | null,
  reportText: string,
): Pick<AbuseAnalysis, 'phishing' | 'phishingTerms' | 'originDomains' | 'attachments' | 'linkDomains'> {
  const { phishing, terms } = phishingLanguage(reportText, original?.decoded('subject') ?? '', originalPart ? readableText(originalPart, false) : '');
  return {
    phishing,
    phishingTerms: terms,
    originDomains: originDomains(original),
    attachments: attachments(root),
    linkDomains: originalPart ? linkDomains([readableText(originalPart, false, true)]) : [],
  };
}
