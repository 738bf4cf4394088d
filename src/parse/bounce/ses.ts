/**
 * Amazon SES event notifications delivered by e-mail (SNS topic subscriptions): a JSON
 * document, bare or wrapped in an SNS envelope whose "Message" is the JSON as a string.
 * https://docs.aws.amazon.com/ses/latest/dg/notification-contents.html
 */
import { parseAddrSpec } from '../../address.js';

export interface SesRecipient {
  address: string | null;
  action: string;
  status: string | null;
  diagnostic: string | null;
}

export interface SesNotification {
  type: 'bounce' | 'delivery' | 'complaint';
  bounceType: string | null;
  recipients: SesRecipient[];
}

interface SesJson {
  notificationType?: string;
  eventType?: string;
  bounce?: {
    bounceType?: string;
    bounceSubType?: string;
    bouncedRecipients?: Array<{ emailAddress?: string; action?: string; status?: string; diagnosticCode?: string }>;
  };
  delivery?: { recipients?: string[]; smtpResponse?: string };
  complaint?: { complainedRecipients?: Array<{ emailAddress?: string }> };
  Message?: string;
}

/** The first JSON object in the text that parses, starting at a line that opens one. */
function firstJson(text: string): SesJson | null {
  let from = 0;
  for (let tries = 0; tries < 5; tries++) {
    const i = text.indexOf('{', from);
    if (i < 0) return null;
    const j = text.lastIndexOf('}');
    if (j <= i) return null;
    const candidate = text.slice(i, j + 1);
    try {
      return JSON.parse(candidate) as SesJson;
    } catch {
      // Mail gateways wrap long lines; a raw line break is never valid inside JSON strings.
      try {
        return JSON.parse(candidate.replace(/\n[ \t]*/g, '')) as SesJson;
      } catch {
        from = i + 1;
      }
    }
  }
  return null;
}

export function parseSesNotification(text: string): SesNotification | null {
  if (text.indexOf('notificationType') < 0 && text.indexOf('eventType') < 0) return null;
  let doc = firstJson(text);
  if (doc && typeof doc.Message === 'string') {
    try {
      doc = JSON.parse(doc.Message) as SesJson;
    } catch {
      return null;
    }
  }
  if (!doc) return null;
  const type = (doc.notificationType ?? doc.eventType ?? '').toLowerCase();
  if (type === 'bounce' && doc.bounce) {
    const permanent = (doc.bounce.bounceType ?? '').toLowerCase() === 'permanent';
    return {
      type: 'bounce',
      bounceType: doc.bounce.bounceType ?? null,
      recipients: (doc.bounce.bouncedRecipients ?? []).map((r) => ({
        address: parseAddrSpec(r.emailAddress),
        action: (r.action ?? (permanent ? 'failed' : 'delayed')).toLowerCase(),
        status: r.status ?? null,
        diagnostic: r.diagnosticCode ? r.diagnosticCode.replace(/^smtp;\s*/i, '') : null,
      })),
    };
  }
  if (type === 'delivery' && doc.delivery) {
    const smtp = doc.delivery.smtpResponse ?? null;
    const status = smtp ? (/\b2\.\d{1,3}\.\d{1,3}\b/.exec(smtp)?.[0] ?? null) : null;
    return {
      type: 'delivery',
      bounceType: null,
      recipients: (doc.delivery.recipients ?? []).map((a) => ({ address: parseAddrSpec(a), action: 'delivered', status, diagnostic: smtp })),
    };
  }
  if (type === 'complaint') return { type: 'complaint', bounceType: null, recipients: [] };
  return null;
}
