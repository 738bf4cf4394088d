/**
 * Bounce classification as data: config/bounce-rules.yaml holds the status-code tables,
 * reply-code hints and ordered text patterns, each citing where its knowledge comes from
 * (an RFC, a provider's published error reference, an MTA's message catalogue); this module
 * compiles them once and applies them in a fixed precedence (see classify()). No rule lives
 * in code.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';

/**
 * Where a text rule's knowledge comes from, which is also its precedence: a provider's own
 * documented reply beats an MTA's catalogue text, which beats wording common to many
 * servers; `fallback` rules (an MTA's "I gave up" summary) run only after the status tables.
 */
export type Tier = 'provider' | 'mta' | 'generic' | 'fallback';
export const TIERS: readonly Tier[] = ['provider', 'mta', 'generic', 'fallback'];

export interface TextRule {
  reason: string;
  re: RegExp;
  example: string;
  /** Unique name of the rule: reported by the corpus figures and tests. */
  name: string;
  tier: Tier;
  /** The document the rule is written from. */
  source: string;
  /** Fallback rules run only after the status table found nothing. */
  weak: boolean;
  /** Name of the confirmation (see `confirmations`) the reason needs to stand. */
  confirm: string | null;
  /** Provider rules: apply only when the recipient's domain or the remote MTA matches. */
  hosts: RegExp | null;
}

/**
 * What a reason read from a generic phrase needs to stand: a status code of the right
 * subject, or text placing the refusal at the right SMTP stage; else it becomes `otherwise`.
 */
export interface Confirmation {
  name: string;
  /** Status prefixes ("X.1" = any X.1.x) that confirm on their own. */
  status: string[];
  re: RegExp;
  otherwise: string;
  example: string;
}

/** A provider's error-code table: the code its replies carry names the reason. */
export interface ProviderCodes {
  name: string;
  /** One capture group: the code. */
  re: RegExp;
  codes: Map<string, string>;
  /** Numeric code ranges, inclusive. */
  ranges: Array<[number, number, string]>;
  example: string;
}

/** A header of the bounce itself that carries the reporting MTA's verdict. */
export interface HeaderRule {
  header: string;
  re: RegExp;
  reason: string;
  example: string;
}

export interface StageRule {
  name: string;
  re: RegExp;
  from: Set<string>;
  to: string;
  example: string;
}

export interface BounceRules {
  /**
   * Called with the classification a recipient's report was built from (the corpus CLI
   * counts which rules fire on which files). Null outside measurement.
   */
  trace: ((c: Classification) => void) | null;
  /** Verdicts written in a header of the bounce: they decide for every recipient. */
  headerRules: HeaderRule[];
  /** Provider error-code tables, read before anything else. */
  providerCodes: ProviderCodes[];
  /** Enhanced status codes whose meaning is precise enough to beat the text. */
  strongStatus: Map<string, string>;
  /** Enhanced status codes (exact, or "X.Y" class/subject) used when the text says nothing. */
  statusFallback: Map<string, string>;
  /** SMTP reply codes used when neither status nor text decide. */
  replyCodes: Map<string, string>;
  /** Provider texts (tier `provider`): read before the precise status codes. */
  providerPatterns: TextRule[];
  /** MTA catalogue and generic texts, in that order; the first that matches decides. */
  patterns: TextRule[];
  /** Ordered weak text patterns, tried after the status table. */
  weakPatterns: TextRule[];
  /** SMTP-stage corrections applied to a decided reason. */
  stages: StageRule[];
  /** Confirmations that rules marked `confirm` need. */
  confirmations: Map<string, Confirmation>;
  /** Action "failed" with a 4.x.x status turns these reasons into `gaveUp.to`. */
  gaveUp: { from: Set<string>; to: string; statusPrefix: string } | null;
  /** Reason → status detail ("1.1") used when a message gives no status at all. */
  defaultStatus: Map<string, string>;
  /** Reasons that are recipient-permanent (contracts.md). */
  hardReasons: Set<string>;
  /** notaccept is hard only with a 5xx or no code. */
  hardIfPermanent: Set<string>;
}

export interface ClassifyInput {
  status?: string | null;
  replyCode?: string | null;
  diagnostic?: string | null;
  action?: string | null;
  /** Surrounding text (the SMTP transcript around the diagnostic): read for the stage rules only. */
  context?: string | null;
  /** Host names the provider rules are scoped by: the recipient's domain, the remote MTA. */
  hosts?: Array<string | null | undefined>;
}

export interface Classification {
  reason: string;
  hard: boolean;
  status: string | null;
  /** What decided the reason: a precise status, a text rule, the looser tables, or nothing. */
  source: 'status' | 'text' | 'unconfirmed' | 'status-class' | 'reply-code' | 'action' | 'none';
  /**
   * Which rule decided: "text:NAME", "provider-code:NAME", "status:X.2.2", "status-class:X.7",
   * "reply:550", "action:delayed", "none"; corrections append "+stage:NAME" / "+gave-up".
   */
  rule: string;
}

/** A table of codes and the one document it is written from. */
interface RawTable {
  source: string;
  codes: Record<string, string>;
}

interface RawRules {
  strong_status?: RawTable[];
  status?: RawTable[];
  reply_codes?: RawTable[];
  default_status?: Record<string, string>;
  hard?: string[];
  hard_if_permanent?: string[];
  patterns?: Array<{ reason: string; match: string[]; example: string; name: string; tier: Tier; source: string; confirm?: string; hosts?: string }>;
  confirmations?: Record<string, { status?: string[]; match: string[]; otherwise: string; example: string; source: string }>;
  stages?: Array<{ name: string; match: string[]; from: string[]; to: string; example: string; source: string }>;
  gave_up?: { from: string[]; to: string; status_prefix?: string; source: string };
  header_verdicts?: Array<{ header: string; match: string[]; reason: string; example: string; source: string }>;
  provider_codes?: Array<{ name: string; code: string; codes?: Record<string, string>; ranges?: Array<[number, number, string]>; example: string; source: string }>;
}

/** Merges a list of sourced code tables; a code listed twice is an error. */
function tables(what: string, list: RawTable[] | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const [i, t] of (list ?? []).entries()) {
    if (!t.source || !t.codes) throw new Error(`${what} table #${i + 1} needs a source and codes`);
    for (const [k, v] of Object.entries(t.codes)) {
      if (out.has(String(k))) throw new Error(`${what}: ${k} is listed twice`);
      out.set(String(k), v);
    }
  }
  return out;
}

function alternation(what: string, match: unknown): RegExp {
  if (!Array.isArray(match) || match.length === 0) throw new Error(`${what} needs at least one match`);
  const bad = match.find((m) => typeof m !== 'string');
  if (bad !== undefined) throw new Error(`${what}: every match must be a string (quote patterns that contain ": ")`);
  // One alternation per rule: the engine scans the text once per rule, not once per phrase.
  return new RegExp((match as string[]).map((m) => `(?:${m})`).join('|'), 'i');
}

const cache = new Map<string, BounceRules>();

export function loadBounceRules(path?: string): BounceRules {
  const file = path ?? fileURLToPath(new URL('../../../config/bounce-rules.yaml', import.meta.url));
  const hit = cache.get(file);
  if (hit) return hit;
  const rules = compileBounceRules(YAML.parse(readFileSync(file, 'utf8')) as RawRules);
  cache.set(file, rules);
  return rules;
}

export function compileBounceRules(raw: RawRules): BounceRules {
  const patterns: TextRule[] = [];
  const names = new Set<string>();
  for (const [i, p] of (raw.patterns ?? []).entries()) {
    const what = `bounce rule #${i + 1} (${p.name ?? p.reason})`;
    if (!p.reason) throw new Error(`${what} needs a reason`);
    if (!p.example) throw new Error(`${what} needs an example line`);
    if (!p.name || names.has(p.name)) throw new Error(`${what} needs a unique name`);
    if (!TIERS.includes(p.tier)) throw new Error(`${what}: tier must be one of ${TIERS.join(', ')}`);
    if (!p.source) throw new Error(`${what} must cite its source`);
    names.add(p.name);
    const re = alternation(what, p.match);
    if (p.confirm && !raw.confirmations?.[p.confirm]) throw new Error(`${what}: unknown confirmation '${p.confirm}'`);
    patterns.push({ reason: p.reason, re, example: p.example, name: p.name, tier: p.tier, source: p.source, weak: p.tier === 'fallback', confirm: p.confirm ?? null, hosts: p.hosts ? new RegExp(p.hosts, 'i') : null });
  }
  // Stable order by tier: a provider's text, then MTA catalogues, then common wording.
  const byTier = (t: Tier): TextRule[] => patterns.filter((p) => p.tier === t);
  const confirmations = new Map<string, Confirmation>();
  for (const [name, c] of Object.entries(raw.confirmations ?? {})) {
    const what = `confirmation '${name}'`;
    if (!c.otherwise || !c.example || !c.source) throw new Error(`${what} needs otherwise, an example and a source`);
    confirmations.set(name, { name, status: (c.status ?? []).map((x) => x.replace(/^X\./, '')), re: alternation(what, c.match), otherwise: c.otherwise, example: c.example });
  }
  const stages: StageRule[] = (raw.stages ?? []).map((st, i) => {
    const what = `stage rule #${i + 1} (${st.name})`;
    if (!st.to || !Array.isArray(st.from) || !st.example || !st.source) throw new Error(`${what} needs from, to, an example and a source`);
    return { name: st.name, re: alternation(what, st.match), from: new Set(st.from), to: st.to, example: st.example };
  });
  const providerCodes: ProviderCodes[] = (raw.provider_codes ?? []).map((pc) => {
    const what = `provider codes '${pc.name}'`;
    if (!pc.example || typeof pc.code !== 'string' || !pc.source) throw new Error(`${what} need a code pattern, an example and a source`);
    const re = new RegExp(pc.code, 'i');
    if (new RegExp(re.source + '|').exec('')!.length !== 2) throw new Error(`${what}: the code pattern needs exactly one capture group`);
    const codes = new Map(Object.entries(pc.codes ?? {}).map(([k, v]) => [k.toUpperCase(), v]));
    return { name: pc.name, re, codes, ranges: pc.ranges ?? [], example: pc.example };
  });
  const headerRules: HeaderRule[] = (raw.header_verdicts ?? []).map((h, i) => {
    const what = `header verdict #${i + 1}`;
    if (!h.header || !h.reason || !h.example || !h.source) throw new Error(`${what} needs header, reason, an example and a source`);
    return { header: h.header.toLowerCase(), re: alternation(what, h.match), reason: h.reason, example: h.example };
  });
  if (raw.gave_up && !raw.gave_up.source) throw new Error('gave_up needs a source');
  return {
    trace: null,
    headerRules,
    providerCodes,
    providerPatterns: byTier('provider'),
    weakPatterns: byTier('fallback'),
    stages,
    confirmations,
    gaveUp: raw.gave_up ? { from: new Set(raw.gave_up.from), to: raw.gave_up.to, statusPrefix: raw.gave_up.status_prefix ?? '4.' } : null,
    strongStatus: tables('strong_status', raw.strong_status),
    statusFallback: tables('status', raw.status),
    replyCodes: tables('reply_codes', raw.reply_codes),
    patterns: [...byTier('mta'), ...byTier('generic')],
    defaultStatus: new Map(Object.entries(raw.default_status ?? {})),
    hardReasons: new Set(raw.hard ?? []),
    hardIfPermanent: new Set(raw.hard_if_permanent ?? []),
  };
}

/** An enhanced status code (RFC 3463) not glued to other digits or dots (IP addresses, versions). */
const STATUS_IN_TEXT = /(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d]|\.\d)/g;
/** An SMTP reply code as a diagnostic starts it: "550 ", "550-", "said: 550". */
const REPLY_IN_TEXT = /(?<![\d.:/#-])([245][0-9][0-9])(?=[ -](?:[^\d]|[245]\.\d)|$)/;

/**
 * The status code a text gives. When it quotes several (a relay wrapping the remote
 * server's reply: "5.1.0 - Unknown address error 550-'5.2.2 … Mailbox Full'"), the last
 * one is the innermost, the remote server's own. 2.x.x codes count only when alone.
 */
export function statusFromText(text: string): string | null {
  let last: string | null = null;
  let success: string | null = null;
  for (const m of text.matchAll(STATUS_IN_TEXT)) {
    const code = `${m[1]}.${m[2]}.${m[3]}`;
    if (m[1] !== '2') last = code;
    else success ??= code;
  }
  return last ?? success;
}

export function replyCodeFromText(text: string): string | null {
  const m = REPLY_IN_TEXT.exec(text);
  return m ? m[1] : null;
}

/** The first unscoped text rule that matches, in precedence order (fallback rules last), or null. */
export function matchText(rules: BounceRules, text: string): TextRule | null {
  for (const list of [rules.providerPatterns, rules.patterns, rules.weakPatterns]) {
    for (const r of list) if (!r.hosts && r.re.test(text)) return r;
  }
  return null;
}

/**
 * White space collapsed, and the reply-code prefixes of continuation lines removed
 * ("550-5.7.1 [..] Messages with multiple 550-5.7.1 addresses" reads as one sentence).
 */
export function normaliseDiagnostic(s: string): string {
  const flat = s.replace(/\s+/g, ' ').trim();
  const first = /^(?:.{0,80}?)(?<![\d.])([245]\d\d)[- ]/.exec(flat);
  if (!first) return flat;
  const code = first[1];
  const start = first.index + first[0].length;
  // Later "550-" or "550 5.7.1 " prefixes of the same reply are line continuations.
  let again = CONTINUATION.get(code);
  if (!again) {
    again = new RegExp(`(?<=\\S) ${code}[- ](?:[245]\\.\\d{1,3}\\.\\d{1,3} )?(?=\\S)`, 'g');
    CONTINUATION.set(code, again);
  }
  return flat.slice(0, start) + flat.slice(start).replace(again, ' ');
}
const CONTINUATION = new Map<string, RegExp>();

/** The reason a provider's error code names, if the text carries one it knows. */
export function providerReason(rules: BounceRules, text: string): string | undefined {
  return providerCode(rules, text)?.reason;
}

function providerCode(rules: BounceRules, text: string): { reason: string; name: string } | undefined {
  for (const pc of rules.providerCodes) {
    const m = pc.re.exec(text);
    if (!m) continue;
    const code = m[1].toUpperCase();
    const exact = pc.codes.get(code);
    if (exact) return { reason: exact, name: pc.name };
    const n = Number(code);
    if (Number.isInteger(n)) for (const [lo, hi, reason] of pc.ranges) if (n >= lo && n <= hi) return { reason, name: pc.name };
  }
  return undefined;
}

function confirmed(c: Confirmation, status: string | null, text: string): boolean {
  if (status) {
    const subject = status.slice(2);
    if (c.status.some((p) => subject === p || subject.startsWith(p + '.'))) return true;
  }
  return c.re.test(text);
}

/** The entry for a status: the exact code, then "X.<subject>.<detail>", then "X.<subject>". */
function statusLookup(map: Map<string, string>, status: string): { reason: string; key: string } | undefined {
  const [, s, d] = status.split('.');
  for (const key of [status, `X.${s}.${d}`, `X.${s}`]) {
    const reason = map.get(key);
    if (reason) return { reason, key };
  }
  return undefined;
}

/**
 * Decides the reason, in this precedence (docs/parsing.md, "Reason taxonomy and rules"):
 *  1. a delivered status / action;
 *  2. a provider's own words: its error-code table, then its documented reply texts;
 *  3. an enhanced status code precise enough to decide alone (RFC 3463 and its registry);
 *  4. the MTA catalogue texts, then wording common to many servers;
 *  5. the enhanced code's subject table; then the fallback texts (an MTA's "gave up" summary);
 *  6. the SMTP reply code (RFC 5321 §4.2); then Action: delayed;
 *  7. `onhold`: some text that neither code nor any rule decides (`undefined`: no text).
 */
export function classify(rules: BounceRules, input: ClassifyInput): Classification {
  const raw = (input.diagnostic ?? '').replace(/\s+/g, ' ');
  const diagnostic = normaliseDiagnostic(raw);
  let status = input.status && /^[245]\.\d{1,3}\.\d{1,3}$/.test(input.status) ? input.status : statusFromText(raw);
  const replyCode = input.replyCode ?? (raw ? replyCodeFromText(raw) : null);
  const action = (input.action ?? '').toLowerCase();

  let reason: string | undefined;
  let source: Classification['source'] = 'none';
  let rule = 'none';
  const decide = (r: string | undefined, s: Classification['source'], name: string): void => {
    if (!reason && r) {
      reason = r;
      source = s;
      rule = name;
    }
  };
  if (status?.startsWith('2.') || action === 'delivered' || action === 'relayed' || action === 'expanded') {
    decide('delivered', 'action', 'action:delivered');
  }
  const stageText = input.context ? diagnostic + ' ' + normaliseDiagnostic(input.context) : diagnostic;
  const textRule = (r: TextRule): void => {
    const c = r.confirm ? rules.confirmations.get(r.confirm) : undefined;
    if (!c || confirmed(c, status, stageText)) decide(r.reason, 'text', `text:${r.name}`);
    else decide(c.otherwise, 'unconfirmed', `text:${r.name}`);
  };
  const hosts = (input.hosts ?? []).filter((x): x is string => Boolean(x));
  const applies = (r: TextRule): boolean => !r.hosts || hosts.some((x) => r.hosts!.test(x));
  const firstText = (list: TextRule[]): void => {
    if (!diagnostic || reason) return;
    const r = list.find((x) => applies(x) && x.re.test(diagnostic));
    if (r) textRule(r);
  };
  if (diagnostic && !reason) {
    const pc = providerCode(rules, diagnostic);
    if (pc) decide(pc.reason, 'text', `provider-code:${pc.name}`);
  }
  firstText(rules.providerPatterns);
  if (status && !reason) {
    const hit = statusLookup(rules.strongStatus, status);
    if (hit) decide(hit.reason, 'status', `status:${hit.key}`);
  }
  firstText(rules.patterns);
  if (status && !reason) {
    const hit = statusLookup(rules.statusFallback, status);
    if (hit) decide(hit.reason, 'status-class', `status-class:${hit.key}`);
  }
  firstText(rules.weakPatterns);
  if (replyCode) decide(rules.replyCodes.get(replyCode), 'reply-code', `reply:${replyCode}`);
  if (action === 'delayed') decide('expired', 'action', 'action:delayed');
  if (!reason) reason = diagnostic.trim() ? 'onhold' : 'undefined';
  if (stageText) {
    for (const st of rules.stages) {
      if (st.from.has(reason) && st.re.test(stageText)) {
        reason = st.to;
        rule += `+stage:${st.name}`;
        break;
      }
    }
  }
  const given = status;
  const temporary = given ? given.startsWith(rules.gaveUp?.statusPrefix ?? '4.') : Boolean(replyCode?.startsWith('4'));
  if (rules.gaveUp && action === 'failed' && temporary && rules.gaveUp.from.has(reason)) {
    reason = rules.gaveUp.to;
    rule += '+gave-up';
  }

  if (!status) {
    // RFC 3463 class from what the message says (reply code, action), detail from the reason.
    const detail = rules.defaultStatus.get(reason);
    const cls = replyCode ? replyCode[0] : action === 'delayed' ? '4' : action === 'delivered' ? '2' : '5';
    if (detail && (cls === '4' || cls === '5')) status = `${cls}.${detail}`;
  }

  // contracts.md: these reasons are hard whatever the code (a 4.1.1 is still a missing
  // mailbox; some servers answer 450 to slow down address harvesting).
  let hard = false;
  if (rules.hardReasons.has(reason)) hard = true;
  else if (rules.hardIfPermanent.has(reason)) {
    hard = !(replyCode?.startsWith('4') || status?.startsWith('4.'));
  }
  return { reason, hard, status, source, rule };
}
