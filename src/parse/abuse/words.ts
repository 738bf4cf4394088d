/**
 * The word lists and forward labels of config/abuse-words.yaml, read and compiled once (on
 * first use: the CLI's `--help` never loads them). Each list must name its `source`; a file
 * without one is refused, as the bounce rules are.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';

export interface PhishingTerm {
  /** The English name reported, whatever language matched. */
  term: string;
  /** Strong terms decide on their own; weak ones need `weakNeeded` different ones together. */
  strong: boolean;
  re: RegExp;
}

export interface AbuseWords {
  /** A forward separator line, folded ("---------- Forwarded message ---------"). */
  separator: RegExp;
  /** Forward-block labels, folded → the header field they stand for. */
  labels: ReadonlyMap<string, string>;
  /** A forward's subject prefix ("Fwd:", "WG:"), after an optional "[tag]". */
  forwardSubject: RegExp;
  phishing: { terms: readonly PhishingTerm[]; weakNeeded: number };
  /** Complaint language in folded text. */
  complaintWords: RegExp;
  /** Words about a text message (SMS, MMS) in folded text. */
  smsWords: RegExp;
}

interface RawList {
  source?: unknown;
  match?: unknown;
}

function sourced(what: string, v: unknown): Record<string, unknown> {
  if (!v || typeof v !== 'object') throw new Error(`abuse words: ${what} is missing`);
  const o = v as RawList & Record<string, unknown>;
  if (typeof o.source !== 'string' || o.source.trim() === '') throw new Error(`abuse words: ${what} names no source`);
  return o;
}

function strings(what: string, v: unknown): string[] {
  if (!Array.isArray(v) || v.length === 0 || v.some((x) => typeof x !== 'string' || x === '')) throw new Error(`abuse words: ${what} must be a list of words`);
  return v as string[];
}

function escape(word: string): string {
  return word.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** One alternation between word boundaries: the text is scanned once per list, not once per word. */
function wordsRe(what: string, list: unknown): RegExp {
  return new RegExp(`\\b(?:${strings(what, sourced(what, list).match).join('|')})\\b`);
}

export function compileAbuseWords(raw: unknown): AbuseWords {
  const doc = (raw ?? {}) as Record<string, unknown>;
  const forward = (doc.forward ?? {}) as Record<string, unknown>;

  const seps = sourced('forward.separators', forward.separators);
  const phrases = Object.entries(seps).flatMap(([lang, v]) => (lang === 'source' ? [] : strings(`forward.separators.${lang}`, v)));
  // The phrase is the whole line but for the decoration clients put around it.
  const separator = new RegExp(`^[\\s>*_=~\\-\\u2013\\u2014]*(?:${phrases.join('|')})[\\s*_=~:\\-\\u2013\\u2014]*$`);

  const labels = new Map<string, string>();
  for (const [field, v] of Object.entries(sourced('forward.labels', forward.labels))) {
    if (field === 'source') continue;
    for (const l of strings(`forward.labels.${field}`, v)) labels.set(l, field);
  }

  const prefixes = strings('forward.subject_prefixes.words', sourced('forward.subject_prefixes', forward.subject_prefixes).words);
  const forwardSubject = new RegExp(`^\\s*(?:\\[[^\\]]*\\]\\s*)?(?:${prefixes.map(escape).join('|')})\\s*:`, 'i');

  const ph = sourced('phishing', doc.phishing);
  if (!Array.isArray(ph.terms) || ph.terms.length === 0) throw new Error('abuse words: phishing.terms is empty');
  const terms = (ph.terms as Array<Record<string, unknown>>).map((t, i): PhishingTerm => {
    if (typeof t.term !== 'string' || typeof t.strong !== 'boolean') throw new Error(`abuse words: phishing.terms[${i}] needs term and strong`);
    // One alternation per term: several languages' phrasings of the same sign.
    return { term: t.term, strong: t.strong, re: new RegExp(strings(`phishing.terms[${i}].match`, t.match).join('|')) };
  });
  const weakNeeded = ph.weak_needed;
  if (typeof weakNeeded !== 'number' || !Number.isInteger(weakNeeded) || weakNeeded < 2) throw new Error('abuse words: phishing.weak_needed must be a whole number of at least 2');

  return {
    separator,
    labels,
    forwardSubject,
    phishing: { terms, weakNeeded },
    complaintWords: wordsRe('complaint_words', doc.complaint_words),
    smsWords: wordsRe('sms_words', doc.sms_words),
  };
}

let loaded: AbuseWords | undefined;

/** The lists of config/abuse-words.yaml, compiled on first use. */
export function abuseWords(): AbuseWords {
  loaded ??= compileAbuseWords(YAML.parse(readFileSync(fileURLToPath(new URL('../../../config/abuse-words.yaml', import.meta.url)), 'utf8')));
  return loaded;
}
