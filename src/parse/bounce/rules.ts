/**
 * Bounce classification as data: config/bounce-rules.yaml holds the status-code tables,
 * reply-code hints and ordered text patterns; this module compiles them once and applies
 * them. No rule lives in code.
 */
import { readFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';

export interface TextRule {
  reason: string;
  re: RegExp;
  example: string;
  /** Human name of the rule, for tests and debugging. */
  name: string;
  /** Weak rules run only after the status table found nothing. */
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
  /** Ordered text patterns; the first that matches decides. */
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
}

interface RawRules {
  strong_status?: Record<string, string>;
  status?: Record<string, string>;
  reply_codes?: Record<string, string>;
  default_status?: Record<string, string>;
  hard?: string[];
  hard_if_permanent?: string[];
  patterns?: Array<{ reason: string; match: string[]; example: string; name?: string; weak?: boolean; confirm?: string; hosts?: string }>;
  confirmations?: Record<string, { status?: string[]; match: string[]; otherwise: string; example: string }>;
  stages?: Array<{ name: string; match: string[]; from: string[]; to: string; example: string }>;
  gave_up?: { from: string[]; to: string; status_prefix?: string };
  header_verdicts?: Array<{ header: string; match: string[]; reason: string; example: string }>;
  provider_codes?: Array<{ name: string; code: string; codes?: Record<string, string>; ranges?: Array<[number, number, string]>; example: string }>;
}

function alternation(what: string, match: unknown): RegExp {
  if (!Array.isArray(match) || match.length === 0) throw new Error(`${what} needs at least one match`);
  const bad = match.find((m) => typeof m !== 'string');
  if (bad !== undefined) throw new Error(`${what}: every match must be a string (quote patterns that contain ": ")`);
  // One alternation per rule: the engine scans the text once per rule, not once per phrase.
  return new RegExp((match as string[]).map((m) => `(?:${m})`).join('|'), 'i');
}

/** Walks up from this module to the directory that holds package.json. */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return process.cwd();
}

const cache = new Map<string, BounceRules>();

export function loadBounceRules(path?: string): BounceRules {
  const file = path ?? join(packageRoot(), 'config', 'bounce-rules.yaml');
  const hit = cache.get(file);
  if (hit) return hit;
  const rules = compileBounceRules(YAML.parse(readFileSync(file, 'utf8')) as RawRules);
  cache.set(file, rules);
  return rules;
}

export function compileBounceRules(raw: RawRules): BounceRules {
  const patterns: TextRule[] = [];
  for (const [i, p] of (raw.patterns ?? []).entries()) {
    const what = `bounce rule #${i + 1} (${p.reason})`;
    if (!p.reason) throw new Error(`${what} needs a reason`);
    if (!p.example) throw new Error(`${what} needs an example line`);
    const re = alternation(what, p.match);
    if (p.confirm && !raw.confirmations?.[p.confirm]) throw new Error(`${what}: unknown confirmation '${p.confirm}'`);
    patterns.push({ reason: p.reason, re, example: p.example, name: p.name ?? `${p.reason}#${i + 1}`, weak: p.weak === true, confirm: p.confirm ?? null, hosts: p.hosts ? new RegExp(p.hosts, 'i') : null });
  }
  const confirmations = new Map<string, Confirmation>();
  for (const [name, c] of Object.entries(raw.confirmations ?? {})) {
    const what = `confirmation '${name}'`;
    if (!c.otherwise || !c.example) throw new Error(`${what} needs otherwise and an example`);
    confirmations.set(name, { name, status: (c.status ?? []).map((x) => x.replace(/^X\./, '')), re: alternation(what, c.match), otherwise: c.otherwise, example: c.example });
  }
  const stages: StageRule[] = (raw.stages ?? []).map((st, i) => {
    const what = `stage rule #${i + 1} (${st.name})`;
    if (!st.to || !Array.isArray(st.from) || !st.example) throw new Error(`${what} needs from, to and an example`);
    return { name: st.name, re: alternation(what, st.match), from: new Set(st.from), to: st.to, example: st.example };
  });
  const providerCodes: ProviderCodes[] = (raw.provider_codes ?? []).map((pc) => {
    const what = `provider codes '${pc.name}'`;
    if (!pc.example || typeof pc.code !== 'string') throw new Error(`${what} need a code pattern and an example`);
    const re = new RegExp(pc.code, 'i');
    if (new RegExp(re.source + '|').exec('')!.length !== 2) throw new Error(`${what}: the code pattern needs exactly one capture group`);
    const codes = new Map(Object.entries(pc.codes ?? {}).map(([k, v]) => [k.toUpperCase(), v]));
    return { name: pc.name, re, codes, ranges: pc.ranges ?? [], example: pc.example };
  });
  const headerRules: HeaderRule[] = (raw.header_verdicts ?? []).map((h, i) => {
    const what = `header verdict #${i + 1}`;
    if (!h.header || !h.reason || !h.example) throw new Error(`${what} needs header, reason and an example`);
    return { header: h.header.toLowerCase(), re: alternation(what, h.match), reason: h.reason, example: h.example };
  });
  return {
    headerRules,
    providerCodes,
    weakPatterns: patterns.filter((p) => p.weak),
    stages,
    confirmations,
    gaveUp: raw.gave_up ? { from: new Set(raw.gave_up.from), to: raw.gave_up.to, statusPrefix: raw.gave_up.status_prefix ?? '4.' } : null,
    strongStatus: new Map(Object.entries(raw.strong_status ?? {})),
    statusFallback: new Map(Object.entries(raw.status ?? {})),
    replyCodes: new Map(Object.entries(raw.reply_codes ?? {}).map(([k, v]) => [String(k), v])),
    patterns: patterns.filter((p) => !p.weak),
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

/** The first text rule that matches (strong rules, then weak ones), or null. */
export function matchText(rules: BounceRules, text: string, weak = false): TextRule | null {
  for (const r of weak ? rules.weakPatterns : rules.patterns) if (!r.hosts && r.re.test(text)) return r;
  return weak ? null : matchText(rules, text, true);
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
  for (const pc of rules.providerCodes) {
    const m = pc.re.exec(text);
    if (!m) continue;
    const code = m[1].toUpperCase();
    const exact = pc.codes.get(code);
    if (exact) return exact;
    const n = Number(code);
    if (Number.isInteger(n)) for (const [lo, hi, reason] of pc.ranges) if (n >= lo && n <= hi) return reason;
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

function statusLookup(map: Map<string, string>, status: string): string | undefined {
  const exact = map.get(status);
  if (exact) return exact;
  const [, s, d] = status.split('.');
  return map.get(`X.${s}.${d}`) ?? map.get(`X.${s}`);
}

/**
 * Decides the reason: a precise status code first, then the ordered text patterns, then
 * the looser status and reply-code tables, then the DSN action.
 */
export function classify(rules: BounceRules, input: ClassifyInput): Classification {
  const raw = (input.diagnostic ?? '').replace(/\s+/g, ' ');
  const diagnostic = normaliseDiagnostic(raw);
  let status = input.status && /^[245]\.\d{1,3}\.\d{1,3}$/.test(input.status) ? input.status : statusFromText(raw);
  const replyCode = input.replyCode ?? (raw ? replyCodeFromText(raw) : null);
  const action = (input.action ?? '').toLowerCase();

  let reason: string | undefined;
  let source: Classification['source'] = 'none';
  const decide = (r: string | undefined, s: Classification['source']): void => {
    if (!reason && r) {
      reason = r;
      source = s;
    }
  };
  if (status?.startsWith('2.') || action === 'delivered' || action === 'relayed' || action === 'expanded') {
    decide('delivered', 'action');
  }
  if (diagnostic) decide(providerReason(rules, diagnostic), 'text');
  if (status) decide(statusLookup(rules.strongStatus, status), 'status');
  const stageText = input.context ? diagnostic + ' ' + normaliseDiagnostic(input.context) : diagnostic;
  const textRule = (r: TextRule): void => {
    const c = r.confirm ? rules.confirmations.get(r.confirm) : undefined;
    if (!c || confirmed(c, status, stageText)) decide(r.reason, 'text');
    else decide(c.otherwise, 'unconfirmed');
  };
  const hosts = (input.hosts ?? []).filter((x): x is string => Boolean(x));
  const applies = (r: TextRule): boolean => !r.hosts || hosts.some((x) => r.hosts!.test(x));
  if (diagnostic) {
    for (const r of rules.patterns) {
      if (applies(r) && r.re.test(diagnostic)) {
        textRule(r);
        break;
      }
    }
  }
  if (status) decide(statusLookup(rules.statusFallback, status), 'status-class');
  if (diagnostic && !reason) {
    for (const r of rules.weakPatterns) {
      if (applies(r) && r.re.test(diagnostic)) {
        textRule(r);
        break;
      }
    }
  }
  if (replyCode) decide(rules.replyCodes.get(replyCode), 'reply-code');
  if (action === 'delayed') decide('expired', 'action');
  if (!reason) reason = diagnostic.trim() ? 'onhold' : 'undefined';
  if (stageText) {
    for (const st of rules.stages) {
      if (st.from.has(reason) && st.re.test(stageText)) {
        reason = st.to;
        break;
      }
    }
  }
  const given = status;
  const temporary = given ? given.startsWith(rules.gaveUp?.statusPrefix ?? '4.') : Boolean(replyCode?.startsWith('4'));
  if (rules.gaveUp && action === 'failed' && temporary && rules.gaveUp.from.has(reason)) {
    reason = rules.gaveUp.to;
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
  return { reason, hard, status, source };
}
