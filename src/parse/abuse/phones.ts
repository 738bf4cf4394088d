/**
 * Mobile numbers of an SMS complaint: whether a report is about a text message (the words
 * of config/abuse-words.yaml), and the numbers it names, read with libphonenumber-js.
 */
import { type CountryCode, type PhoneNumber, findPhoneNumbersInText, isSupportedCountry, parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { canReceiveSms as keep } from '../../phone.js';
import { fold } from './text.js';
import { abuseWords } from './words.js';

/** Phone numbers are looked for in the first part of the reporter's text only. */
export const MAX_PHONE_TEXT = 16 * 1024;
/** Candidates tried per text (libphonenumber's maxTries, and our second pass): bounds digit soup. */
const MAX_PHONE_TRIES = 100;

/** Words just before a number that make it the sender's, not the complainant's. */
const SENDER_CONTEXT = /(?:\bfrom|\bsender|\bsent\s+by|\bsender\s+id|\bcaller(?:\s+id)?|\bvon|\babsender|\bexpediteur|\bremitente|\bde\s+la\s+part\s+de)(?:\s+(?:the\s+)?(?:number|no\.?|nummer|numero))?\s*[:=\-]?\s*$/;

/** Whether the text is about an SMS (or MMS, a "text message"). */
export function aboutSms(text: string): boolean {
  return abuseWords().smsWords.test(fold(text.length > MAX_PHONE_TEXT ? text.slice(0, MAX_PHONE_TEXT) : text));
}

const CANDIDATE = /(?<![\w+/.=-])(\+?\(?\d[\d \t().\-]{5,22}\d)(?![\w/@]|[.,]\d)/g;

/**
 * Mobile numbers the text names, E.164, deduplicated, in order; national forms read in
 * `region` (ISO 3166 alpha-2). Landlines, toll-free and short codes are left out, and so
 * is a number introduced as the sender ("from +61 4…", "Sender: …").
 */
export function mobileNumbers(text: string, region = 'US'): string[] {
  const src = text.length > MAX_PHONE_TEXT ? text.slice(0, MAX_PHONE_TEXT) : text;
  const country = isSupportedCountry(region.toUpperCase()) ? (region.toUpperCase() as CountryCode) : undefined;
  const out: string[] = [];
  const taken: Array<[number, number]> = [];
  const consider = (p: PhoneNumber | undefined, start: number, end: number): void => {
    taken.push([start, end]);
    if (!p || !keep(p)) return;
    const lineStart = src.lastIndexOf('\n', start - 1) + 1;
    if (SENDER_CONTEXT.test(fold(src.slice(Math.max(lineStart, start - 40), start)))) return;
    if (!out.includes(p.number)) out.push(p.number);
  };
  let found: ReturnType<typeof findPhoneNumbersInText> = [];
  try {
    // maxTries is PhoneNumberMatcher's documented option; the typings of this entry point omit it.
    const options = { defaultCountry: country, maxTries: MAX_PHONE_TRIES } as { defaultCountry?: CountryCode };
    found = findPhoneNumbersInText(src, options);
  } catch {
    found = [];
  }
  for (const f of found) consider(f.number, f.startsAt, f.endsAt);
  // Second pass for what the finder leaves out because the metadata calls it invalid.
  let tries = 0;
  for (const m of src.matchAll(CANDIDATE)) {
    if (++tries > MAX_PHONE_TRIES) break;
    const start = m.index!;
    const end = start + m[1].length;
    if (taken.some(([a, b]) => start < b && a < end)) continue;
    const digits = m[1].replace(/\D/g, '');
    if (digits.length < 8 || digits.length > 15 || /^\d{1,3}(?:\.\d{1,3}){3}$/.test(m[1].trim())) continue;
    let p: PhoneNumber | undefined;
    try {
      p = parsePhoneNumberFromString(m[1], country);
    } catch {
      p = undefined;
    }
    if (p && !p.isValid()) consider(p, start, end);
  }
  return out;
}
