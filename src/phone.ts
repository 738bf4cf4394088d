/**
 * Phone numbers of SMS recipients, as E.164 (libphonenumber-js). One rule for the report
 * page, the JSON form route, abuse@ prose and inbound texts: a number with a country code
 * is read as written; a number written the national way ("07700 900123") is tried in each
 * configured region (`phone.regions`, the markets we send to) and accepted when it is a
 * mobile number in exactly one of them; when it is one in several, every candidate is kept
 * and the caller decides (the SMS index usually knows which of them we texted).
 */
import { type CountryCode, type PhoneNumber, getCountries, getCountryCallingCode, getExampleNumber, isSupportedCountry, parsePhoneNumberFromString } from 'libphonenumber-js/max';
import examples from 'libphonenumber-js/mobile/examples';

let mobileExamples: Map<string, PhoneNumber[]> | null = null;

/** Per country calling code: the example mobile numbers of regions whose mobiles have their own prefix. */
function examplesByCallingCode(): Map<string, PhoneNumber[]> {
  if (mobileExamples) return mobileExamples;
  const map = new Map<string, PhoneNumber[]>();
  for (const c of getCountries()) {
    const e = getExampleNumber(c, examples);
    if (!e || e.getType() !== 'MOBILE') continue;
    const cc = getCountryCallingCode(c);
    map.set(cc, [...(map.get(cc) ?? []), e]);
  }
  mobileExamples = map;
  return map;
}

/**
 * A number libphonenumber does not list as assigned (Ofcom's 07700 900xxx range reserved
 * for drama, a range opened since the metadata was built) still reads as a mobile number
 * when it has the length and leading digit of its region's mobile numbers, in a region
 * whose mobiles have a prefix of their own (not NANP, where any number may be mobile).
 */
function looksMobile(p: PhoneNumber): boolean {
  if (!p.isPossible()) return false;
  const n = p.nationalNumber;
  return (examplesByCallingCode().get(p.countryCallingCode) ?? []).some((e) => e.nationalNumber.length === n.length && e.nationalNumber[0] === n[0]);
}

/** Whether a parsed number can receive SMS: a mobile (or mobile-or-fixed) number. */
export function canReceiveSms(p: PhoneNumber): boolean {
  if (p.isValid()) {
    const type = p.getType();
    // Regions without type metadata give undefined: accept; a known landline, toll-free or
    // shared-cost number is no SMS recipient.
    return type === undefined || type === 'MOBILE' || type === 'FIXED_LINE_OR_MOBILE';
  }
  return looksMobile(p);
}

/** The regions of a list that libphonenumber knows, upper case, in order, once each. */
export function knownRegions(regions: readonly string[]): CountryCode[] {
  const out: CountryCode[] = [];
  for (const r of regions) {
    const c = r.toUpperCase();
    if (isSupportedCountry(c) && !out.includes(c as CountryCode)) out.push(c as CountryCode);
  }
  return out;
}

/** Written with a country code: "+44 …", "0044 …" or "011 44 …" (international prefixes). */
const INTERNATIONAL = /^\s*(?:\+|00|011)/;

/**
 * Every E.164 mobile number the text can be, one per region in which it reads as one
 * (a number with a country code has at most one). Empty: no mobile number anywhere.
 */
export function mobileCandidates(text: string, regions: readonly string[]): string[] {
  const s = text.trim().slice(0, 40);
  if (!/\d/.test(s)) return [];
  const out: string[] = [];
  const tryIn = (region: CountryCode | undefined, src: string): void => {
    let p: PhoneNumber | undefined;
    try {
      p = parsePhoneNumberFromString(src, region);
    } catch {
      p = undefined;
    }
    if (p && canReceiveSms(p) && !out.includes(p.number)) out.push(p.number);
  };
  if (INTERNATIONAL.test(s)) {
    tryIn(undefined, s.replace(/^\s*(?:00|011)\s*/, '+'));
    return out;
  }
  for (const r of knownRegions(regions)) tryIn(r, s);
  return out;
}

/** The one E.164 mobile number the text is, or null (none, or one in several regions). */
export function mobileE164(text: string, regions: readonly string[]): string | null {
  const c = mobileCandidates(text, regions);
  return c.length === 1 ? c[0] : null;
}

/**
 * The sender a person names in prose about a text message: `from "PROMO"`, `Sender: PROMO`,
 * `sent by ACME-DEALS`, `von "Angebote"`, `Absender: …`. An alphanumeric sender ID is 1–11
 * characters (GSM 03.40 §9.2.3.7, TP-OA alphanumeric); a number up to 15 digits; quoted or
 * not. Null when none is named. Linear: each pattern is anchored on a keyword and bounded.
 */
export function senderIdIn(text: string): string | null {
  const src = text.slice(0, 20_000);
  const quoted = /\b(?:from|sender(?:\s+id)?|sent\s+by|von|absender|de\s+la\s+part\s+de|remitente|expéditeur|expediteur)\s*[:=]?\s*["“”'‘’«„]([^"“”'‘’«»„\n]{1,20})["“”'‘’»]/i.exec(src);
  if (quoted) return quoted[1].trim() || null;
  const bare = /\b(?:sender(?:\s+id)?|absender|remitente|exp[ée]diteur)\s*[:=]\s*([A-Za-z0-9+][A-Za-z0-9 ._&-]{0,19})/i.exec(src);
  if (bare) {
    // Trailing blanks and dots cut by a scan (a regex anchored at the end backtracks).
    const v = bare[1];
    let end = v.length;
    while (end > 0 && (v[end - 1] === ' ' || v[end - 1] === '.')) end--;
    return v.slice(0, end).trim() || null;
  }
  const upper = /\bfrom\s+([A-Z0-9][A-Z0-9._&-]{1,10})\b/.exec(src);
  return upper ? upper[1] : null;
}

/** A sender id or number compared loosely: case, spaces and punctuation do not matter. */
export function sameSender(a: string, b: string): boolean {
  const norm = (s: string) => s.toLowerCase().replace(/[^\p{L}\p{N}]/gu, '');
  const x = norm(a);
  const y = norm(b);
  if (!x || !y) return false;
  if (x === y) return true;
  // A number given without its country code ("07700 900999" for +447700900999).
  const dx = x.replace(/^0+/, '');
  const dy = y.replace(/^0+/, '');
  return /^\d{6,}$/.test(dx) && /^\d{6,}$/.test(dy) && (dx.endsWith(dy) || dy.endsWith(dx));
}
