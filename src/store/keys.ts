/**
 * The only place that knows Redis key names.
 *
 * Every key carries a hash tag (RFC-less but Redis Cluster's rule: the part inside the first
 * `{…}` picks the slot). An account's keys all share the tag of its partition, so one Lua
 * script can change an account's state and append the event announcing it to the same
 * partition's outbox atomically, on a single Redis or a Cluster alike.
 */

import { B32 } from '../ids.js';

/** FNV-1a, 32 bit: a stable, fast spread of ids over partitions. */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** CRC16-XMODEM (polynomial 0x1021), the checksum Redis Cluster hashes keys with. */
function crc16(s: Buffer): number {
  let crc = 0;
  for (const byte of s) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

/**
 * The Redis Cluster hash slot of a key: of the part inside its first non-empty `{…}`, else
 * of the whole key (Cluster specification, "Hash tags"). The store waits for the replicas of
 * the master serving the slots it wrote (replication.ts).
 */
export function slotOf(key: string): number {
  const open = key.indexOf('{');
  if (open >= 0) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) key = key.slice(open + 1, close);
  }
  return crc16(Buffer.from(key)) % 16384;
}

export interface AccountKeys {
  /** Hash: pool, createdAt, suspended, suspendedAt, suspendReason, lastWarnAt. */
  meta: string;
  /** Sorted set of warnings, scored by time. */
  warnings: string;
  /**
   * Hash of counters per hour bucket, `<channel>|<hour>|<letter>`, and beside them the
   * running window totals `<channel>|w<hours>|<letter>`, `<channel>|r`, `<channel>|ws`
   * (see lua/lib/windows.lua).
   */
  windows: string;
  /** Hash of per-campaign counters, `<channel>|<hour>|<campaign>|<letter>` (letters c and h: a decision's evidence). */
  campaigns: string;
  /** List of recent report ids (evidence). */
  samples: string;
  /** Hash of recipients who opened or clicked: address → time (expires bounces.engagedDays after the last write). */
  engaged: string;
  /** A recipient's consecutive soft bounces (expires after the idle time). */
  softBounces(address: string): string;
  suppressions(channel: string): string;
  /** Hash of double opt-in proofs: `<channel>|<address>` → JSON. */
  consents: string;
  dedup(fingerprint: string): string;
  /** Sorted set of abuse reports about the account, `reportId|ipGroup|address`, by time (rules/evidence.ts). */
  reporters: string;
  /** List of vetting results, newest first (JSON each). */
  vetting: string;
  /** Set of the account's cases resolved as confirmed abuse (rules/investigation.ts, confirmed-cases). */
  confirmedCases: string;
  /** List of the account's latest preflight decisions, newest first (JSON each; capped). */
  preflights: string;
  /**
   * Hash of counters per UTC day, `<channel>|<day>|<letter>` (sent, complaints, hard
   * bounces) and `<channel>|dr` (the day old fields were dropped up to), kept 31 days:
   * the desk's 30-day chart (lua/lib/daily.lua). The hour buckets live one week only.
   */
  daily: string;
  outbox: string;
  /** The partition's audit stream: admin changes to its accounts, written with them. */
  audit: string;
}

export class Keys {
  constructor(
    readonly prefix: string,
    readonly partitions: number,
  ) {}

  partitionOf(id: string): number {
    return fnv1a(id) % this.partitions;
  }

  /** Hash tag of a partition. */
  tag(partition: number): string {
    return `${this.prefix}:{p${partition}}`;
  }

  /**
   * A report id (ids.ts newId) made to name a partition in its last three characters (15 of
   * its 80 random bits; base 32, up to 32,768 partitions): the account's, so that the record
   * is written by the script that writes the account's effects, or for a report about no
   * account, the partition its own id falls in. Time order is kept.
   */
  reportId(id: string, account: string | null): string {
    let p = account ? this.partitionOf(account) : this.partitionOf(id);
    let tail = '';
    for (let i = 0; i < 3; i++, p = Math.floor(p / 32)) tail = B32[p % 32] + tail;
    return id.slice(0, -3) + tail;
  }

  /** The received-report record, in the partition its id names (reportId). */
  report(reportId: string): string {
    let p = 0;
    for (const c of reportId.slice(-3)) p = p * 32 + Math.max(0, B32.indexOf(c));
    return `${this.tag(p)}:report:${reportId}`;
  }

  /** Ids of the newest unparseable messages, newest first (a trimmed list). */
  quarantine(): string {
    return `${this.prefix}:{q}:quarantine`;
  }

  /** One quarantined message with its reason (a key per message, with a TTL; slot of the index). */
  quarantined(id: string): string {
    return `${this.prefix}:{q}:quarantine:${id}`;
  }

  /**
   * The account's suppression hash for a channel (also `account(a).suppressions(c)`): the
   * per-recipient lookup needs no other key of the account, so it builds only this one.
   */
  accountSuppressions(account: string, channel: string): string {
    return `${this.tag(this.partitionOf(account))}:a:${account}:sup:${channel}`;
  }

  /** All keys of one account, in its partition. */
  account(account: string): AccountKeys {
    const t = `${this.tag(this.partitionOf(account))}:a:${account}`;
    return {
      meta: `${t}:meta`,
      warnings: `${t}:warnings`,
      windows: `${t}:windows`,
      campaigns: `${t}:campaigns`,
      samples: `${t}:samples`,
      engaged: `${t}:engaged`,
      softBounces: (address: string) => `${t}:soft:${address}`,
      suppressions: (channel: string) => this.accountSuppressions(account, channel),
      consents: `${t}:consents`,
      dedup: (fingerprint: string) => `${t}:seen:${fingerprint}`,
      reporters: `${t}:reporters`,
      vetting: `${t}:vetting`,
      confirmedCases: `${t}:confirmed`,
      preflights: `${t}:preflights`,
      daily: `${t}:daily`,
      outbox: this.outbox(this.partitionOf(account)),
      audit: this.partitionAudit(this.partitionOf(account)),
    };
  }

  /** The partition's outbox stream: events written atomically with the state they announce. */
  outbox(partition: number): string {
    return `${this.tag(partition)}:outbox`;
  }

  /**
   * Pub/sub channel the scripts PUBLISH to when they append an event: the delivery workers
   * wake on it and poll only slowly otherwise. Not a key (channels have no slot).
   */
  outboxWake(): string {
    return `${this.prefix}:outbox:wake`;
  }

  /**
   * Pub/sub channel adminSuppression.lua PUBLISHes "<channel>\n<address>" to when it changes
   * a global list: every gateway's mirror of the lists (globalMirror.ts) re-reads it.
   */
  globalChanged(): string {
    return `${this.prefix}:global:changed`;
  }

  /**
   * Per endpoint group and ordering key (account, or case:<id>) of a partition: the event
   * being delivered or retried, and the events waiting behind it (see webhook/order.ts).
   */
  outboxOrder(partition: number): string {
    return `${this.tag(partition)}:outbox:order`;
  }

  /** Events of a partition waiting for a retry: sorted set scored by when it is due. */
  outboxRetry(partition: number): string {
    return `${this.tag(partition)}:outbox:retry`;
  }

  /**
   * The partition's events that exhausted their retries: in the outbox's slot, so that the
   * dead letter and the release of its entry are one script (deadLetter-4.lua).
   */
  outboxDead(partition: number): string {
    return `${this.tag(partition)}:outbox:dead`;
  }

  /** Every dead-letter stream: the partitions', the cases' and the global list's. */
  deadLetterStreams(): string[] {
    return [...Array.from({ length: this.partitions }, (_, p) => this.outboxDead(p)), this.cases.outboxDead, this.global.outboxDead];
  }

  partitionAudit(partition: number): string {
    return `${this.tag(partition)}:audit`;
  }

  /**
   * The global list's slot: its changes, their events (ordering key 'global') and audit
   * entries are written together there; the webhook worker reads this outbox too.
   */
  get global() {
    const t = `${this.prefix}:{g}`;
    return { meta: `${t}:meta`, outbox: `${t}:outbox`, outboxRetry: `${t}:outbox:retry`, outboxOrder: `${t}:outbox:order`, outboxDead: `${t}:outbox:dead`, audit: `${t}:audit` };
  }

  /** Every audit stream: the general one, each partition's, the global list's. */
  audits(): string[] {
    return [this.audit(), ...Array.from({ length: this.partitions }, (_, p) => this.partitionAudit(p)), this.global.audit];
  }

  /** Admin-managed suppressions that apply to every account (spam traps, never-mail). */
  globalSuppressions(channel: string): string {
    return `${this.prefix}:{g}:sup:${channel}`;
  }

  /**
   * Abuse-desk cases live in one slot of their own: they are few (people write them), and
   * one slot lets a report join its campaign's open case atomically. The cases outbox is
   * read by the webhook worker like the partitions' outboxes.
   */
  get cases() {
    return {
      record: (caseId: string) => `${this.prefix}:{cases}:case:${caseId}`,
      /** The open case of an account's campaign (or of an account, for reports without one). */
      open: (account: string, campaign: string) => `${this.prefix}:{cases}:open:${account}:${campaign}`,
      /** Every case by creation time (sorted set). */
      all: `${this.prefix}:{cases}:all`,
      outbox: `${this.prefix}:{cases}:outbox`,
      /** Which case a report (by content fingerprint) went to: a redelivery joins nothing. */
      seen: (fingerprint: string) => `${this.prefix}:{cases}:seen:${fingerprint}`,
      /** Cases' events waiting for a webhook retry (sorted set by due time). */
      outboxRetry: `${this.prefix}:{cases}:outbox:retry`,
      outboxOrder: `${this.prefix}:{cases}:outbox:order`,
      /** Cases' events that exhausted their retries. */
      outboxDead: `${this.prefix}:{cases}:outbox:dead`,
    };
  }

  /** Every outbox stream: the partitions', the cases' and the global list's. */
  outboxes(): string[] {
    return [...Array.from({ length: this.partitions }, (_, p) => this.outbox(p)), this.cases.outbox, this.global.outbox];
  }

  /** Per-client request counters of the public routes (fixed one-minute windows). */
  rateLimit(scope: string, client: string, minute: number): string {
    return `${this.prefix}:{rl}:${scope}:${client}:${minute}`;
  }

  /**
   * Accounts by what they signed up with (a set per sign-up address, domain, IP /24 or /64),
   * so that a new account sharing them with a suspended one is found. One slot of its own.
   */
  vettingIndex(kind: 'email' | 'domain' | 'net', value: string): string {
    return `${this.prefix}:{vet}:${kind}:${value}`;
  }

  /** Audit trail of admin changes (one stream, its own slot). */
  audit(): string {
    return `${this.prefix}:{audit}:log`;
  }


  // --- desk console ---

  /**
   * The desk's operators, their sessions and case assignments share one slot of their own:
   * few keys, read on every desk request, never touched by the report path.
   */
  get desk() {
    return {
      /** Hash: operator name → JSON {hash, createdAt} (scrypt; see store/operators.ts). */
      operators: `${this.prefix}:{desk}:operators`,
      /** A session, by the SHA-256 of its cookie value (a Redis dump holds no usable session); expires when idle. */
      session: (sidHash: string) => `${this.prefix}:{desk}:session:${sidHash}`,
      /** The key that signs the desk's CSRF tokens, made on first use and shared by every instance. */
      formKey: `${this.prefix}:{desk}:formkey`,
      /** Hash: case id → operator name (assign to me). */
      assignees: `${this.prefix}:{desk}:assignees`,
    };
  }

  // --- preflight ---

  /**
   * The suppressed addresses of one large preflight, kept for cursor fetches (a list with
   * a TTL). It lives in the partition of the preflight id: the fetch knows only the id.
   */
  preflightSuppressed(preflightId: string): string {
    return `${this.tag(this.partitionOf(preflightId))}:pf:${preflightId}:sup`;
  }

  // --- SMS sends index (src/store/sms.ts) ---

  /**
   * Recent SMS sends to one number (a list, newest first, with a TTL): who texted it, from
   * which sender, when. Each number is its own slot (its hash tag), so a batch of sends
   * spreads over a Cluster and each write touches one key.
   */
  smsSends(e164: string): string {
    return `${this.prefix}:{n${e164}}:sms`;
  }

  /**
   * The report page's form-token key when no token secret is configured: random, written
   * once (SET NX) so that every instance signs and checks with the same one.
   */
  formKey(): string {
    return `${this.prefix}:{formkey}`;
  }
}
