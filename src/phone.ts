/**
 * Phone numbers of SMS recipients, as E.164 (libphonenumber-js). A number written the
 * national way ("0400 000 000") is read in the configured default region. One rule for
 * the abuse form and for numbers found in abuse@ mail.
 */
import { type CountryCode, type PhoneNumber, getCountries, getCountryCallingCode, getExampleNumber, parsePhoneNumberFromString } from 'libphonenumber-js/max';
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

/** The E.164 form of a number that can receive SMS, or null. */
export function mobileE164(text: string, region: string): string | null {
  const p = parsePhoneNumberFromString(text.trim(), region as CountryCode);
  return p && canReceiveSms(p) ? p.number : null;
}
