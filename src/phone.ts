/**
 * Phone numbers of SMS recipients, as E.164 (libphonenumber-js). A number written the
 * national way ("0400 000 000") is read in the configured default region.
 */
import { type CountryCode, parsePhoneNumberFromString } from 'libphonenumber-js/max';

/** The E.164 form of a number that can receive SMS (mobile, or mobile-or-fixed), or null. */
export function mobileE164(text: string, region: string): string | null {
  const p = parsePhoneNumberFromString(text.trim(), region as CountryCode);
  if (!p || !p.isValid()) return null;
  const type = p.getType();
  // Regions without type metadata give undefined: accept; a known landline is no SMS recipient.
  if (type !== undefined && type !== 'MOBILE' && type !== 'FIXED_LINE_OR_MOBILE') return null;
  return p.number;
}
