/**
 * A Report is what one message says, in the shape of `abusegate parse` (contracts.md).
 * Produced by pure code in src/parse/; consumed by rules/ and store/.
 */

export type ReportKind =
  | 'complaint'
  | 'bounce'
  | 'abuse'
  | 'unsubscribe'
  | 'autoreply'
  | 'delivery-notice'
  | 'unknown';

export interface RecipientReport {
  /** Normalised address, or null when the reporter redacted it and nothing recovers it. */
  address: string | null;
  redacted: boolean;
  /**
   * Complaints whose report hashed the recipient (RFC 6590): the form it gives, a hex or
   * base64 digest in place of the local part (`<digest>@domain`) or of the whole address,
   * as written, for the platform to match against its own recipients hashed the same way.
   */
  reported?: string;
  reason: string | null;
  hard: boolean;
  /** DSN Action (failed, delayed, delivered, relayed, expanded) or null. */
  action: string | null;
  /** Enhanced status code (RFC 3463), e.g. "5.1.1", or null. */
  status: string | null;
  /** SMTP reply code, e.g. "550", or null. */
  replyCode: string | null;
  diagnostic: string | null;
  /** ARF Feedback-Type (lower case) for complaints. */
  feedbackType?: string | null;
}

export interface OriginalMessage {
  messageId: string | null;
  from: string | null;
  subject: string | null;
  date: string | null;
  returnPath: string | null;
}

export interface Reporter {
  userAgent: string | null;
  sourceIp: string | null;
  reportedDomain: string | null;
}

export interface Attribution {
  account: string | null;
  campaign: string | null;
  /** True only when an authenticated token named the account. */
  verified: boolean;
  via: 'token' | 'verp' | 'feedback-id' | 'none';
}

export interface AbuseDetails {
  channel: 'email' | 'sms';
  /** The report's From address. */
  reporter: string | null;
  originalFound: 'attached' | 'inline' | 'headers-only' | 'none';
  phishing: boolean;
  phishingTerms: string[];
  /** Domains the offending message names (From, Return-Path, DKIM d=, Received by). */
  originDomains: string[];
  tokenState: 'valid' | 'forged' | 'missing';
  /** SMS complaints: the sender id or number the reporter names. */
  sender?: string;
  /** Files the reporter attached (screenshots, forwarded .eml/.msg), listed as evidence, never opened. */
  attachments?: AttachmentEvidence[];
  /** Domains of the links in the reported message's text and HTML (lower case, A-label, unique). */
  linkDomains?: string[];
}

export interface AttachmentEvidence {
  /** The filename the sender gave (Content-Disposition / Content-Type name), or null. */
  name: string | null;
  /** The declared media type, lower case. */
  type: string;
  /** Decoded size in octets. */
  size: number;
  /** SHA-256 of the decoded content, hex. */
  sha256: string;
}

export interface Report {
  kind: ReportKind;
  recipients: RecipientReport[];
  original: OriginalMessage;
  reporter: Reporter;
  attribution: Attribution;
  phones: string[];
  /** What an abuse report says beyond the common fields (mail to abuse@: kind abuse, or a complaint sent there). */
  abuse?: AbuseDetails;
  /** Set only when the message could not be parsed; such mail is quarantined. */
  error?: string;
}

/** The report of a message that could not be read: kind unknown, with the reason. */
export function unreadableReport(error: string): Report {
  return {
    kind: 'unknown',
    recipients: [],
    original: { messageId: null, from: null, subject: null, date: null, returnPath: null },
    reporter: { userAgent: null, sourceIp: null, reportedDomain: null },
    attribution: { account: null, campaign: null, verified: false, via: 'none' },
    phones: [],
    error,
  };
}
