/**
 * Typed operations on the state kept in Redis. Callers never see key names or Redis
 * errors: every failure becomes STORE_UNAVAILABLE, which the edges answer with 451 / 503.
 */
import type { Redis } from 'ioredis';
import { GatewayError } from '../errors.js';
import { redisErrors } from '../metrics.js';
import type { Keys } from './keys.js';
import { SCRIPT_VERSION } from './redis.js';

/** What we know about a message we accepted (issue: "received-report record"). */
export interface ReceivedReport {
  id: string;
  mailbox: string;
  kind: string;
  size: number;
  clientIp: string;
  helo: string;
  mailFrom: string;
  rcptTo: string[];
  arrivedAt: number;
  outcome: 'parsed' | 'quarantined';
  error?: string;
  account?: string | null;
  campaign?: string | null;
}

export interface QuarantineEntry {
  id: string;
  reason: string;
  mailbox: string;
  arrivedAt: number;
  size: number;
  /** The first bytes of the message, for the desk to look at. */
  head: string;
}

export interface StoreOptions {
  retentionMs: number;
  quarantineKeep: number;
}

type Script = (...args: Array<string | number>) => Promise<unknown>;

export class Store {
  constructor(
    readonly redis: Redis,
    readonly keys: Keys,
    private readonly opts: StoreOptions,
  ) {}

  private script(name: string): Script {
    const fn = (this.redis as unknown as Record<string, Script>)[SCRIPT_VERSION + name];
    return fn.bind(this.redis);
  }

  private async call<T>(what: string, op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (err) {
      redisErrors.inc({ op: what });
      throw new GatewayError('STORE_UNAVAILABLE', undefined, { cause: err });
    }
  }

  /** Writes the received-report record; resolves only once Redis has it. */
  async recordReport(r: ReceivedReport): Promise<boolean> {
    const fields: string[] = [];
    for (const [k, v] of Object.entries(r)) {
      if (v === undefined || v === null) continue;
      fields.push(k, typeof v === 'string' ? v : JSON.stringify(v));
    }
    const created = await this.call('recordReport', () =>
      this.script('recordReport')(this.keys.report(r.id), this.opts.retentionMs, ...fields),
    );
    return created === 1;
  }

  async getReport(id: string): Promise<Record<string, string> | null> {
    const h = await this.call('getReport', () => this.redis.hgetall(this.keys.report(id)));
    return h && Object.keys(h).length > 0 ? h : null;
  }

  async quarantine(e: QuarantineEntry): Promise<void> {
    await this.call('quarantine', () =>
      this.script('quarantine')(this.keys.quarantine(), JSON.stringify(e), this.opts.quarantineKeep),
    );
  }

  async listQuarantine(limit: number): Promise<QuarantineEntry[]> {
    const items = await this.call('listQuarantine', () => this.redis.lrange(this.keys.quarantine(), 0, limit - 1));
    return items.map((s) => JSON.parse(s) as QuarantineEntry);
  }

  /** True when Redis answers now. */
  async ping(): Promise<boolean> {
    try {
      return (await this.redis.ping()) === 'PONG';
    } catch {
      return false;
    }
  }
}
