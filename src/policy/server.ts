/**
 * The Postfix policy delegation service (SMTPD_POLICY_README): `check_policy_service
 * inet:127.0.0.1:10040` in `smtpd_recipient_restrictions` asks here at every RCPT whether
 * the recipient is suppressed for the sending account. Thin: framing, parsing and the
 * decision live in protocol.ts; the lookup is the store's.
 *
 * Connections are persistent. Requests pipelined on one connection are looked up
 * concurrently and answered in order. A malformed request gets DEFER_IF_PERMIT and a log
 * line, never a crash; a request over the size limit ends the connection after its reply,
 * since the stream can no longer be framed.
 */
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Logger } from '../log.js';
import { policyDuration, policyRequests } from './metrics.js';
import {
  type AccountSource,
  type LookupOutcome,
  type ParseResult,
  type PolicyResult,
  LIMITS,
  RequestFramer,
  decidePolicy,
  parseRequest,
  subjectOf,
} from './protocol.js';

export interface PolicyDeps {
  /** Suppression lookup for one recipient of one account; null when not suppressed. Throws on Redis trouble. */
  lookup(account: string, address: string): Promise<{ reason: string } | null>;
  /** Verifies a VERP short token (the part after `bounces+` in the sender's local part); null if not authentic. */
  accountFromToken(token: string): string | null;
  log: Logger;
}

export interface PolicyConfig {
  port: number;
  host: string;
  accountFrom: AccountSource;
  /** Local part before the `+` of a VERP sender, e.g. 'bounces'. */
  verpPrefix: string;
  /** A connection with no request in progress for this long is closed. */
  idleTimeoutMs: number;
  /** Largest request, bytes; a larger one is answered as malformed and the connection closed. */
  maxRequestBytes: number;
}

export interface PolicyServer {
  /** Resolves with the port listened on (useful with port 0). */
  listen(): Promise<number>;
  /** Stops accepting, answers what is in flight (at most graceMs), then closes every connection. */
  stop(graceMs?: number): Promise<void>;
  readonly listening: boolean;
}

/** Lookups one connection may have outstanding before we stop reading from it. */
const MAX_IN_FLIGHT = 256;
/** Verified VERP tokens kept: one per campaign in flight, and verifying costs an HMAC and base-32 decoding. */
const TOKEN_CACHE_SIZE = 10_000;
const RESULTS: readonly PolicyResult[] = ['reject', 'dunno', 'defer', 'malformed'];

interface Slot {
  /** The reply line, once decided. */
  action: string | null;
  result: PolicyResult;
  started: number;
}

/** At most one log line per code and second, so a flood of bad requests or a Redis outage at 10k requests/s does not drown the log. */
function throttled(log: Logger): (code: string, fields: Record<string, unknown>, msg: string) => void {
  const last = new Map<string, { at: number; dropped: number }>();
  return (code, fields, msg) => {
    const now = Date.now();
    const s = last.get(code);
    if (s && now - s.at < 1000) {
      s.dropped++;
      return;
    }
    last.set(code, { at: now, dropped: 0 });
    log.warn({ code, ...fields, ...(s?.dropped ? { suppressedSinceLast: s.dropped } : {}) }, msg);
  };
}

/**
 * Remembers verified tokens: every RCPT of a campaign carries the same one. Keys are fixed
 * for the life of the process (config is frozen), so a verdict never goes stale; forged
 * tokens are remembered too, and the map is emptied when full so it stays bounded.
 */
function cachedTokens(verify: (token: string) => string | null): (token: string) => string | null {
  const seen = new Map<string, string | null>();
  return (token) => {
    let account = seen.get(token);
    if (account === undefined) {
      account = verify(token);
      if (seen.size >= TOKEN_CACHE_SIZE) seen.clear();
      seen.set(token, account);
    }
    return account;
  };
}

export function createPolicyServer(cfg: PolicyConfig, deps: PolicyDeps): PolicyServer {
  const { log } = deps;
  const warn = throttled(log);
  const counters = Object.fromEntries(RESULTS.map((r) => [r, policyRequests.labels(r)])) as Record<PolicyResult, { inc(): void }>;
  const subjectOpts = { accountFrom: cfg.accountFrom, verpPrefix: cfg.verpPrefix, accountFromToken: cachedTokens(deps.accountFromToken) };
  /** Open connections, each with a check of whether it has replies outstanding. */
  const sockets = new Map<Socket, () => boolean>();
  let stopping = false;

  const server = createServer({ noDelay: true }, (socket) => {
    if (stopping) {
      socket.destroy();
      return;
    }
    sockets.set(socket, serve(socket));
  });
  server.on('error', (err) => log.error({ code: 'POLICY_SERVER_ERROR', err: err.message }, 'policy server error'));

  type Done = (outcome: LookupOutcome & { error?: string }) => void;
  /** Runs one lookup; a lookup that throws instead of rejecting is a failure like any other. */
  function startLookup(account: string, address: string, done: Done): void {
    let lookup: Promise<{ reason: string } | null>;
    try {
      lookup = deps.lookup(account, address);
    } catch (err) {
      lookup = Promise.reject(err);
    }
    lookup.then(
      (suppression) => done({ kind: 'found', suppression }),
      (err: unknown) => done({ kind: 'failed', error: err instanceof Error ? err.message : String(err) }),
    );
  }

  /** Serves one connection; returns whether it is idle (no reply outstanding). */
  function serve(socket: Socket): () => boolean {
    const remote = `${socket.remoteAddress}:${socket.remotePort}`;
    const framer = new RequestFramer(cfg.maxRequestBytes);
    const queue: Slot[] = [];
    let closeAfterFlush = false;
    let writeBlocked = false;
    let flushScheduled = false;

    socket.setTimeout(cfg.idleTimeoutMs);
    socket.on('timeout', () => {
      // Idle: nothing outstanding. A slow lookup is bounded by the store's command timeout.
      if (queue.length === 0) {
        log.debug({ remote, partial: framer.midRequest }, 'policy connection idle, closing');
        socket.end();
      }
    });
    socket.on('error', (err) => log.debug({ remote, err: err.message }, 'policy connection error'));
    socket.on('close', () => sockets.delete(socket));
    socket.on('drain', () => {
      writeBlocked = false;
      updateFlow();
    });
    socket.on('data', (chunk: Buffer) => {
      for (const ev of framer.push(chunk)) {
        if (ev.kind === 'oversize') {
          warn('POLICY_MALFORMED', { remote, reason: 'oversize', detail: `more than ${cfg.maxRequestBytes} bytes` }, 'malformed policy request');
          const parsed: ParseResult = { ok: false, reason: 'oversize', detail: '' };
          queue.push(decided(decidePolicy(parsed, { kind: 'skipped' }), performance.now()));
          closeAfterFlush = true;
          socket.pause();
          break;
        }
        handle(ev.text);
      }
      flush();
      updateFlow();
    });

    function decided(d: { result: PolicyResult; action: string }, started: number): Slot {
      return { action: d.action, result: d.result, started };
    }

    function handle(text: string): void {
      const started = performance.now();
      const parsed = parseRequest(text, LIMITS.maxAttributes);
      if (!parsed.ok) {
        warn('POLICY_MALFORMED', { remote, reason: parsed.reason, detail: parsed.detail }, 'malformed policy request');
        queue.push(decided(decidePolicy(parsed, { kind: 'skipped' }), started));
        return;
      }
      const subject = subjectOf(parsed.request, subjectOpts);
      if (!subject.ok) {
        log.debug({ remote, why: subject.why, queueId: parsed.request.queueId, state: parsed.request.protocolState }, 'policy request not checked');
        queue.push(decided(decidePolicy(parsed, { kind: 'skipped' }), started));
        return;
      }
      const slot: Slot = { action: null, result: 'dunno', started };
      queue.push(slot);
      startLookup(subject.account, subject.address, (outcome) => {
        if (outcome.kind === 'failed') {
          warn('POLICY_LOOKUP_FAILED', { remote, err: outcome.error }, 'suppression lookup failed, answering DEFER_IF_PERMIT');
        }
        settle(slot, parsed, outcome, subject.account, subject.address);
      });
    }

    function settle(slot: Slot, parsed: ParseResult, outcome: LookupOutcome, account: string, address: string): void {
      const d = decidePolicy(parsed, outcome);
      slot.action = d.action;
      slot.result = d.result;
      if (d.result === 'reject') log.debug({ remote, account, address, action: d.action }, 'policy reject');
      // Lookups answered by one Redis reply batch settle in one run of the microtask queue;
      // flushing once after it sends their replies in one write, not one syscall each.
      if (!flushScheduled) {
        flushScheduled = true;
        process.nextTick(() => {
          flushScheduled = false;
          flush();
          updateFlow();
        });
      }
    }

    /** Writes every decided reply at the head of the queue, in request order. */
    function flush(): void {
      if (queue.length === 0 || queue[0].action === null) return;
      let out = '';
      const now = performance.now();
      while (queue.length > 0 && queue[0].action !== null) {
        const slot = queue.shift()!;
        out += slot.action + '\n\n';
        counters[slot.result].inc();
        policyDuration.observe((now - slot.started) / 1000);
      }
      if (socket.destroyed) return;
      if (!socket.write(out)) writeBlocked = true;
      if (closeAfterFlush && queue.length === 0) socket.end();
      else if (stopping && queue.length === 0) socket.end();
    }

    /** Reads while few lookups are outstanding and the peer keeps up with our replies. */
    function updateFlow(): void {
      if (closeAfterFlush || stopping) return;
      if (writeBlocked || queue.length >= MAX_IN_FLIGHT) socket.pause();
      else if (socket.isPaused()) socket.resume();
    }

    return () => queue.length === 0;
  }

  return {
    get listening() {
      return server.listening;
    },

    listen() {
      return new Promise<number>((resolve, reject) => {
        const onError = (err: Error): void => reject(err);
        server.once('error', onError);
        server.listen(cfg.port, cfg.host, () => {
          server.off('error', onError);
          const port = (server.address() as AddressInfo).port;
          log.info({ code: 'POLICY_LISTENING', host: cfg.host, port, accountFrom: cfg.accountFrom }, 'policy service listening');
          resolve(port);
        });
      });
    },

    async stop(graceMs = 5000) {
      stopping = true;
      const closed = new Promise<void>((resolve) => {
        if (!server.listening) resolve();
        else server.close(() => resolve());
      });
      for (const [socket, idle] of sockets) {
        socket.pause();
        if (idle()) socket.end();
      }
      // Postfix reconnects and asks again if we close before a reply; waiting is a courtesy.
      const deadline = setTimeout(() => {
        for (const socket of sockets.keys()) socket.destroy();
      }, graceMs);
      deadline.unref();
      await closed;
      clearTimeout(deadline);
    },
  };
}
