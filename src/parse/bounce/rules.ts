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
}

export interface BounceRules {
  /** Enhanced status codes whose meaning is precise enough to beat the text. */
  strongStatus: Map<string, string>;
  /** Enhanced status codes (exact, or "X.Y" class/subject) used when the text says nothing. */
  statusFallback: Map<string, string>;
  /** SMTP reply codes used when neither status nor text decide. */
  replyCodes: Map<string, string>;
  /** Ordered text patterns; the first that matches decides. */
  patterns: TextRule[];
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
}

export interface Classification {
  reason: string;
  hard: boolean;
  status: string | null;
  /** What decided the reason: a precise status, a text rule, the looser tables, or nothing. */
  source: 'status' | 'text' | 'status-class' | 'reply-code' | 'action' | 'none';
}

interface RawRules {
  strong_status?: Record<string, string>;
  status?: Record<string, string>;
  reply_codes?: Record<string, string>;
  default_status?: Record<string, string>;
  hard?: string[];
  hard_if_permanent?: string[];
  patterns?: Array<{ reason: string; match: string[]; example: string; name?: string }>;
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
    if (!p.reason || !Array.isArray(p.match) || p.match.length === 0) {
      throw new Error(`bounce rule #${i + 1} needs a reason and at least one match`);
    }
    const bad = p.match.find((m) => typeof m !== 'string');
    if (bad !== undefined) {
      throw new Error(`bounce rule #${i + 1} (${p.reason}): every match must be a string (quote patterns that contain ": ")`);
    }
    if (!p.example) throw new Error(`bounce rule #${i + 1} (${p.reason}) needs an example line`);
    // One alternation per rule: the engine scans the text once per rule, not once per phrase.
    const re = new RegExp(p.match.map((m) => `(?:${m})`).join('|'), 'i');
    patterns.push({ reason: p.reason, re, example: p.example, name: p.name ?? `${p.reason}#${i + 1}` });
  }
  return {
    strongStatus: new Map(Object.entries(raw.strong_status ?? {})),
    statusFallback: new Map(Object.entries(raw.status ?? {})),
    replyCodes: new Map(Object.entries(raw.reply_codes ?? {}).map(([k, v]) => [String(k), v])),
    patterns,
    defaultStatus: new Map(Object.entries(raw.default_status ?? {})),
    hardReasons: new Set(raw.hard ?? []),
    hardIfPermanent: new Set(raw.hard_if_permanent ?? []),
  };
}

/** An enhanced status code (RFC 3463) not glued to other digits or dots (IP addresses, versions). */
const STATUS_IN_TEXT = /(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d]|\.\d)/g;
/** An SMTP reply code as a diagnostic starts it: "550 ", "550-", "said: 550". */
const REPLY_IN_TEXT = /(?<![\d.:/#-])([245][0-9][0-9])(?=[ -](?:[^\d]|[245]\.\d)|$)/;

/** Picks the first status code from text, skipping 2.x.x (except when nothing else is there). */
export function statusFromText(text: string): string | null {
  let fallback: string | null = null;
  for (const m of text.matchAll(STATUS_IN_TEXT)) {
    const code = `${m[1]}.${m[2]}.${m[3]}`;
    if (m[1] !== '2') return code;
    fallback ??= code;
  }
  return fallback;
}

export function replyCodeFromText(text: string): string | null {
  const m = REPLY_IN_TEXT.exec(text);
  return m ? m[1] : null;
}

/** The first text rule that matches, or null. */
export function matchText(rules: BounceRules, text: string): TextRule | null {
  for (const r of rules.patterns) if (r.re.test(text)) return r;
  return null;
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
  const diagnostic = (input.diagnostic ?? '').replace(/\s+/g, ' ');
  let status = input.status && /^[245]\.\d{1,3}\.\d{1,3}$/.test(input.status) ? input.status : statusFromText(diagnostic);
  const replyCode = input.replyCode ?? (diagnostic ? replyCodeFromText(diagnostic) : null);
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
  if (status) decide(statusLookup(rules.strongStatus, status), 'status');
  if (diagnostic) decide(matchText(rules, diagnostic)?.reason, 'text');
  if (status) decide(statusLookup(rules.statusFallback, status), 'status-class');
  if (replyCode) decide(rules.replyCodes.get(replyCode), 'reply-code');
  if (action === 'delayed') decide('expired', 'action');
  if (!reason) reason = diagnostic.trim() ? 'onhold' : 'undefined';

  if (!status) {
    // RFC 3463 class from what the message says (reply code, action), detail from the reason.
    const detail = rules.defaultStatus.get(reason);
    const cls = replyCode ? replyCode[0] : action === 'delayed' ? '4' : action === 'delivered' ? '2' : '5';
    if (detail && (cls === '4' || cls === '5')) status = `${cls}.${detail}`;
  }

  const permanent = !(status?.startsWith('4.') || replyCode?.startsWith('4') || action === 'delayed');
  let hard = false;
  if (rules.hardReasons.has(reason)) hard = permanent;
  else if (rules.hardIfPermanent.has(reason)) {
    hard = !(replyCode?.startsWith('4') || status?.startsWith('4.'));
  }
  return { reason, hard, status, source };
}
