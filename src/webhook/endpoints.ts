/**
 * What the webhook worker's parts share: the endpoints and outbox sources it serves, what
 * the outbox, retry set and dead-letter streams hold, and reading an event's id.
 */
import { createHash, type KeyObject, createSecretKey } from 'node:crypto';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { Keys } from '../store/keys.js';
import { decodeSecrets } from './sign.js';

export type WebhookConfig = Config['webhooks'];

export interface Endpoint {
  /** Metric label and log field: "default" or the index in webhooks.endpoints. */
  name: string;
  url: URL;
  /** Signing keys, imported once (a Buffer would be imported again for every HMAC). */
  keys: KeyObject[];
  types: ReadonlySet<string> | null;
  /** Consumer group: derived from the URL, so reordering the list keeps each one's place. */
  group: string;
}

/** An outbox stream and the retry set in its slot. */
export interface Source {
  stream: string;
  retry: string;
  /** Its dead letters (same slot: the dead letter and the release are one script). */
  dead: string;
  /** The order hash: per endpoint group and ordering key, the head and the events waiting. */
  order: string;
  /** Partition number, or "cases": recorded in dead letters so replay finds the retry set. */
  partition: string;
}

/** What the retry set holds: the event itself, so the stream entry can be trimmed. */
export interface RetryMember {
  /** Consumer group of the endpoint. */
  g: string;
  /** The attempt this member stands for (2 = first retry). */
  a: number;
  /** The event JSON, byte for byte as the outbox holds it (the signature covers it). */
  e: string;
  /** When the event entered the outbox, ms (for the oldest-age gauge). */
  t: number;
  /** Order field "<group>|<key>" when the event has an ordering key. */
  k?: string;
}

/** The fields of a dead-letter stream entry. */
export interface DeadLetter {
  event: string;
  group: string;
  endpoint: string;
  partition: string;
  attempts: string;
  error: string;
  at: string;
}

export type Job =
  /**
   * An outbox entry, admitted when it was read (lib/admit.lua): with an ordering key it is
   * its key's head. eventId null: unreadable, it can only be a dead letter.
   */
  | { kind: 'stream'; src: Source; ep: Endpoint; id: string; raw: string; eventId: string | null; heldAt: number; order: string | null }
  | { kind: 'retry'; src: Source; ep: Endpoint | null; member: string; m: RetryMember; order: string | null; heldAt: number };

/** An outbox entry held in a worker's queue. */
export type StreamJob = Extract<Job, { kind: 'stream' }>;

/** Stream entries grouped by stream and consumer group: what one XCLAIM can take. */
export function byStream(jobs: readonly StreamJob[]): StreamJob[][] {
  const groups = new Map<string, StreamJob[]>();
  for (const j of jobs) {
    const k = `${j.src.stream}\n${j.ep.group}`;
    const g = groups.get(k);
    if (g) g.push(j);
    else groups.set(k, [j]);
  }
  return [...groups.values()];
}

const DEFAULT_ENDPOINT = 'default';
/** Events kept (about) per outbox while no endpoint is configured. */
export const UNSENT_KEPT = 10_000;
/**
 * Dead letters kept (about) per stream, ~130,000 over the default 64 partitions: a
 * receiver gone for good must not fill Redis.
 */
export const DEAD_LETTERS_KEPT = 2_000;

export function groupName(url: string): string {
  return 'wh:' + createHash('sha256').update(url).digest('hex').slice(0, 16);
}

/** webhooks.url + secret is an endpoint for every type; then each of webhooks.endpoints. */
export function endpointsOf(config: WebhookConfig, log?: Logger): Endpoint[] {
  const list: Array<{ name: string; url: string; secret: string; types: readonly string[] | null }> = [];
  if (config.url && config.secret) list.push({ name: DEFAULT_ENDPOINT, url: config.url, secret: config.secret, types: null });
  else if (config.url) log?.error({ code: 'WEBHOOK_NO_SECRET' }, 'webhooks.url is set without webhooks.secret: nothing is sent unsigned');
  config.endpoints.forEach((e, i) => list.push({ name: String(i), url: e.url, secret: e.secret, types: e.types }));
  const seen = new Map<string, number>();
  return list.map((e) => {
    const base = groupName(e.url);
    const n = (seen.get(base) ?? 0) + 1;
    seen.set(base, n);
    return {
      name: e.name,
      url: new URL(e.url),
      keys: decodeSecrets(e.secret).map((k) => createSecretKey(k)),
      types: e.types ? new Set(e.types) : null,
      group: n === 1 ? base : `${base}~${n}`,
    };
  });
}

/**
 * Whether the gateway sends events at all: with no endpoint the scripts write none to the
 * outboxes (StoreOptions.sendsEvents). Decided from the configuration, not from Redis, so
 * every instance sharing a Redis must configure the same endpoints (docs/operations.md).
 */
export function sendsEvents(config: WebhookConfig): boolean {
  return endpointsOf(config).length > 0;
}

/** Every outbox with its retry set. */
export function sourcesOf(keys: Keys): Source[] {
  const out: Source[] = [];
  for (let p = 0; p < keys.partitions; p++) out.push({ stream: keys.outbox(p), retry: keys.outboxRetry(p), order: keys.outboxOrder(p), dead: keys.outboxDead(p), partition: String(p) });
  out.push({ stream: keys.cases.outbox, retry: keys.cases.outboxRetry, order: keys.cases.outboxOrder, dead: keys.cases.outboxDead, partition: 'cases' });
  out.push({ stream: keys.global.outbox, retry: keys.global.outboxRetry, order: keys.global.outboxOrder, dead: keys.global.outboxDead, partition: 'global' });
  return out;
}


export function retryKeyOf(keys: Keys, partition: string): string | null {
  if (partition === 'cases') return keys.cases.outboxRetry;
  if (partition === 'global') return keys.global.outboxRetry;
  const p = Number(partition);
  return Number.isInteger(p) && p >= 0 && p < keys.partitions ? keys.outboxRetry(p) : null;
}

/** Stream ids start with the ms they were added at. */
export function idMs(id: string): number {
  return Number(id.slice(0, id.indexOf('-')));
}

export function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function parseEvent(raw: string): { id?: unknown } | null {
  try {
    const v = JSON.parse(raw) as unknown;
    return v && typeof v === 'object' ? (v as { id?: unknown }) : null;
  } catch {
    return null;
  }
}

export function idOf(raw: string): string | null {
  const e = parseEvent(raw);
  return e && typeof e.id === 'string' && e.id ? e.id : null;
}
