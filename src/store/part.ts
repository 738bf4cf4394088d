/**
 * What every part of the store shares: the connection, the key names and the settings.
 * The parts (accounts.ts, suppressions.ts, cases.ts, reports.ts, outbox.ts) are the typed
 * operations; store.ts composes them into the one Store the rest of the gateway is given.
 */
import { type Script, scriptOf } from './call.js';
import type { Keys } from './keys.js';
import type { RedisClient } from './redis.js';
import type { ReplicationOptions } from './replication.js';

export interface StoreOptions {
  retentionMs: number;
  quarantineKeep: number;
  /** Rolling windows, e.g. [{name: '24h', hours: 24}, {name: '7d', hours: 168}]. */
  windows: ReadonlyArray<{ name: string; hours: number }>;
  /** How long a report's fingerprint is remembered to drop duplicates. */
  dedupMs: number;
  /** How long warnings count (the warning window) and are kept. */
  warningWindowMs: number;
  /** How long an account's engaged recipients are remembered after its last engagement. */
  engagedMs: number;
  /**
   * False when the gateway has no webhook endpoint: the scripts then write no events to
   * the outboxes (nobody would read them), the ordering numbers still advance
   * (lua/lib/events.lua). Absent: true. Every instance sharing a Redis must configure the
   * same endpoints (docs/operations.md, "Webhook delivery").
   */
  sendsEvents?: boolean;
  /** Replicas that must confirm a write before it is acknowledged (durably); absent: none. */
  replication?: ReplicationOptions;
}

export abstract class StorePart {
  constructor(
    readonly redis: RedisClient,
    readonly keys: Keys,
    protected readonly opts: StoreOptions,
  ) {}

  protected script(name: string): Script {
    return scriptOf(this.redis, name);
  }

  /** The scripts' outbox flag (lua/lib/events.lua). */
  protected get outboxFlag(): OutboxFlag {
    return outboxFlag(this.opts);
  }
}

/** '1': the scripts append events to the outboxes; '0': the gateway has no webhook endpoint. */
export type OutboxFlag = '1' | '0';

export function outboxFlag(opts: Pick<StoreOptions, 'sendsEvents'>): OutboxFlag {
  return opts.sendsEvents === false ? '0' : '1';
}
