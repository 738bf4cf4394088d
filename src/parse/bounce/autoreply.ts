/**
 * RFC 3834 automatic responses (vacation and out-of-office replies). They tell the sender
 * nothing about deliverability, so they are reported as `autoreply` and suppress nothing.
 */
import type { HeaderList } from '../mime.js';

/** Subjects vacation responders use when they set no RFC 3834 header. */
const AUTOREPLY_SUBJECT =
  /^(?:auto(?:matic)?[ -]?(?:reply|response|respons|answer)|auto:|out of (?:the )?office|away from (?:the )?office|away until|on vacation|vacation|abwesenheitsnotiz|automatische antwort|r[ée]ponse automatique|absence|risposta automatica|respuesta autom[aá]tica|fuera de la oficina|niet aanwezig|automatisch antwoord|自動応答|自動返信)/i;

/**
 * True when the headers mark the message as an automatic reply. `Auto-Submitted:
 * auto-replied` (RFC 3834 §5) is also set by many MTAs on their DSNs, so the caller tries
 * the bounce parsers first and asks this only when they found nothing.
 */
export function isAutoreply(headers: HeaderList): boolean {
  const autoSubmitted = (headers.get('auto-submitted') ?? '').toLowerCase();
  if (autoSubmitted.startsWith('auto-replied')) return true;
  if (headers.has('x-autoreply') || headers.has('x-autorespond') || headers.has('x-autoresponder')) return true;
  const precedence = (headers.get('precedence') ?? '').toLowerCase().trim();
  if (precedence === 'auto_reply') return true;
  const subject = (headers.decoded('subject') ?? '').trim();
  return AUTOREPLY_SUBJECT.test(subject);
}
