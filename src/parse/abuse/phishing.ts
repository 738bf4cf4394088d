/**
 * Phishing language: the terms of config/abuse-words.yaml matched against folded text.
 */
import { fold, MAX_TEXT } from './text.js';
import { abuseWords } from './words.js';

/**
 * Phishing language in the texts: any strong phrase ("verify your account", "suspended
 * account", "phishing"…), or `weak_needed` (3) different weak ones ("password", "bank", "login"): two
 * weak words are in every bank's newsletter, and a phishing report suspends an account
 * while the desk looks. Terms are reported by their English name whatever language
 * matched, in table order.
 */
export function phishingLanguage(...texts: string[]): { phishing: boolean; terms: string[] } {
  const folded = texts.map((t) => fold(t.length > MAX_TEXT ? t.slice(0, MAX_TEXT) : t).replace(/\s+/g, ' ')).join('\n');
  const { terms: table, weakNeeded } = abuseWords().phishing;
  const terms = table.filter((t) => t.re.test(folded));
  const phishing = terms.some((t) => t.strong) || terms.length >= weakNeeded;
  return { phishing, terms: terms.map((t) => t.term) };
}
