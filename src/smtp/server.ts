/**
 * The SMTP edge (smtp-server): mailbox routing at RCPT, the size limit during DATA, and a
 * 250 only once Ingest has recorded the report. Errors go back through the callbacks with
 * a responseCode; this module never writes to the socket itself.
 */
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { finished } from 'node:stream';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import type { Config } from '../config/schema.js';
import { GatewayError } from '../errors.js';
import type { Ingest } from '../ingest.js';
import type { Logger } from '../log.js';
import { loopBlocked, messageSize, smtpMessages, smtpRcptRejected } from '../metrics.js';
import { type MailboxTarget, resolveMailbox } from './mailbox.js';
import { installProxyV2 } from './proxy.js';
import { ipGroup } from '../trust/ip.js';

interface SessionState {
  target?: MailboxTarget;
  /** The client's /24 or /64 while it holds a connection slot. */
  group?: string;
}

/**
 * Reads a DATA stream to its end, keeping the first `keep` bytes and counting the rest
 * (which is drained). A listener and finished() rather than stream.pipeline(): pipeline
 * aborts an AbortController on every completion, and the DOMException that builds was a
 * measurable share of the per-message cost.
 */
function collect(stream: SMTPServerDataStream, keep: number, read: (bytes: number) => void): Promise<{ raw: Buffer; size: number }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let kept = 0;
    let size = 0;
    stream.on('data', (chunk: Buffer) => {
      if (kept < keep) {
        const part = kept + chunk.length <= keep ? chunk : chunk.subarray(0, keep - kept);
        chunks.push(part);
        kept += part.length;
      }
      size += chunk.length;
      read(chunk.length);
    });
    finished(stream, (err) => {
      if (err) return reject(err);
      const raw = Buffer.concat(chunks, kept);
      // The stream (and this listener's closure) lives until the reply: let the chunks go now.
      chunks.length = 0;
      resolve({ raw, size });
    });
  });
}

/**
 * Bytes of DATA read between two full garbage collections, when node runs with --expose-gc
 * (bin/gateway starts it so). A socket chunk is memory outside V8's heap, freed only when
 * the Buffer object that holds it is collected; and V8 starts a collection for such memory
 * only once 64 MB more of it is held than after the last one. A burst of large messages
 * held 40–80 MB of chunks already read and dropped (docs/benchmarks.md, "Memory"). One
 * collection of this heap holds the loop ~20 ms (`--trace-gc`); reading 32 MB takes ~150.
 * Small reports never get here before V8 collects on its own.
 */
export const RECLAIM_BYTES = 32 << 20;

/** Counts bytes read and calls `gc` each time `every` more have been read; nothing without a gc. */
export function reclaimer(every: number, gc: (() => void) | undefined): (bytes: number) => void {
  if (!gc) return () => {};
  let read = 0;
  return (bytes) => {
    read += bytes;
    if (read < every) return;
    read = 0;
    gc();
  };
}

/** A DATA stream that brings no bytes for this long (ms) gives back its slot (dataConcurrency). */
const TRICKLE_MS = 1000;

/**
 * At most `n` holders at once, the others served in arrival order; each holder's release
 * works once (a second call is a no-op).
 */
function slots(n: number): () => Promise<() => void> {
  let free = n;
  const waiting: Array<() => void> = [];
  const release = () => {
    const next = waiting.shift();
    if (next) next();
    else free++;
  };
  const once = () => {
    let done = false;
    return () => {
      if (!done) (done = true), release();
    };
  };
  return () => {
    if (free > 0) {
      free--;
      return Promise.resolve(once());
    }
    return new Promise((resolve) => waiting.push(() => resolve(once())));
  };
}

/**
 * The process's CPU time for a step that may have held the event loop. process.cpuUsage()
 * is a getrusage(2) call, costly enough here to be a tenth of a message's work when made
 * twice per message: the clock is read at the start of a step only when its last reading
 * is over CPU_READ_MS old, and the CPU used between that reading and the step's start is
 * bounded by the wall time between them, which is taken off.
 */
const CPU_READ_MS = 10;
const cpuClock = {
  at: -Infinity,
  base: process.cpuUsage(),
  start(now: number): void {
    if (now - this.at > CPU_READ_MS) {
      this.at = now;
      this.base = process.cpuUsage();
    }
  },
  /** CPU milliseconds since `t0` (a start()ed step), at least 0. */
  since(t0: number): number {
    const used = process.cpuUsage(this.base);
    return Math.max(0, (used.user + used.system) / 1000 - (t0 - this.at));
  },
};

export interface SmtpEdge {
  listen(): Promise<number>;
  stop(graceMs: number): Promise<void>;
  readonly listening: boolean;
}

/** Per-client-IP counting shared by every instance (Redis): adds `n` hits (1 when not given), answers the count so far. */
export type Limiter = (scope: 'smtp-conn' | 'smtp-msg', ip: string, n?: number) => Promise<number>;

/**
 * How often the message counts are added to Redis. With `appendfsync always` every write
 * costs an fsync that holds Redis: one INCRBY per client per interval instead of one per
 * message keeps the counter off the path of every report's own write.
 */
const COUNT_FLUSH_MS = 200;

export function createSmtpServer(cfg: Config['smtp'], ingest: Ingest, log: Logger, limiter: Limiter): SmtpEdge {
  const states = new WeakMap<SMTPServerSession, SessionState>();
  const state = (s: SMTPServerSession): SessionState => {
    let st = states.get(s);
    if (!st) states.set(s, (st = {}));
    return st;
  };
  let inFlight = 0;
  // Messages read and parsed at once (issue 19): each holds up to keepBytes until its reply,
  // and its reading and parse make garbage the size of the message. The others wait, their
  // bytes held back by TCP (smtp-server stops reading a socket whose DATA stream is not
  // read), so a burst of large messages costs dataConcurrency × keepBytes, not all of them.
  const dataSlot = slots(cfg.dataConcurrency);
  const read = reclaimer(RECLAIM_BYTES, (globalThis as { gc?: () => void }).gc);
  // Open connections per client /24 or /64 (released in onClose).
  const openByGroup = new Map<string, number>();
  // The message count per client IP in the current minute, as Redis last answered; the
  // MAILs counted here since (pending), and those on their way to Redis (sent).
  const seen = new Map<string, number>();
  const pending = new Map<string, number>();
  const sent = new Map<string, number>();
  const sweep = setInterval(() => seen.clear(), 60_000);
  sweep.unref();
  const add = (m: Map<string, number>, ip: string, n: number) => {
    const v = (m.get(ip) ?? 0) + n;
    if (v === 0) m.delete(ip);
    else m.set(ip, v);
  };
  const flush = setInterval(() => {
    for (const [ip, n] of pending) {
      add(sent, ip, n);
      limiter('smtp-msg', ip, n).then(
        (total) => seen.set(ip, total),
        () => {},
      ).finally(() => add(sent, ip, -n));
    }
    pending.clear();
  }, COUNT_FLUSH_MS);
  flush.unref();
  let listening = false;
  const tls = cfg.tlsKey && cfg.tlsCert ? { key: readFileSync(cfg.tlsKey), cert: readFileSync(cfg.tlsCert) } : null;

  const server = new SMTPServer({
    name: cfg.hostname,
    banner: 'abusegate',
    size: cfg.maxSize,
    maxClients: cfg.maxClients,
    socketTimeout: cfg.socketTimeout,
    disableReverseLookup: !cfg.reverseLookup,
    authOptional: true,
    disabledCommands: tls ? ['AUTH'] : ['AUTH', 'STARTTLS'],
    ...(tls ?? {}),
    logger: false,
    ...(cfg.proxyFrom.length ? { useProxy: [...cfg.proxyFrom] } : {}),
    onConnect(session, cb) {
      // Per-IP concurrency (issue 14): one network must not hold every connection slot.
      if (cfg.connectionsPerIp > 0) {
        const group = ipGroup(session.remoteAddress);
        const open = (openByGroup.get(group) ?? 0) + 1;
        if (open > cfg.connectionsPerIp) {
          smtpRcptRejected.inc({ reason: 'connections_per_ip' });
          return cb(new GatewayError('CONNECTION_LIMITED'));
        }
        openByGroup.set(group, open);
        state(session).group = group;
      }
      if (cfg.connectionsPerMinute === 0) return cb();
      limiter('smtp-conn', session.remoteAddress).then(
        (n) => {
          if (n <= cfg.connectionsPerMinute) return cb();
          smtpRcptRejected.inc({ reason: 'connection_rate' });
          cb(new GatewayError('CONNECTION_LIMITED'));
        },
        () => cb(), // fail open: a message will still get its 451 if Redis is really down
      );
    },
    onClose(session) {
      const group = states.get(session)?.group;
      if (group === undefined) return;
      const open = (openByGroup.get(group) ?? 1) - 1;
      if (open > 0) openByGroup.set(group, open);
      else openByGroup.delete(group);
    },
    onMailFrom(_address, session, cb) {
      state(session).target = undefined;
      if (cfg.messagesPerMinute === 0) return cb();
      // Counted here and added to Redis every COUNT_FLUSH_MS (a counter needs no fsync on
      // the path to every 250): the decision uses the client's count as Redis last
      // answered plus what this instance counted since, so this instance cuts a flood at
      // the limit, and every instance within an interval of the others' counts.
      const ip = session.remoteAddress;
      const count = (seen.get(ip) ?? 0) + (sent.get(ip) ?? 0) + (pending.get(ip) ?? 0);
      add(pending, ip, 1);
      if (count < cfg.messagesPerMinute) return cb();
      smtpRcptRejected.inc({ reason: 'message_rate' });
      cb(new GatewayError('RATE_LIMITED', 'Too many messages from your address, try again later'));
    },
    onRcptTo(address, session, cb) {
      const target = resolveMailbox(address.address, cfg);
      if (!target) {
        smtpRcptRejected.inc({ reason: 'unknown_mailbox' });
        return cb(new GatewayError('MAILBOX_UNKNOWN', `No such mailbox: <${address.address}>`));
      }
      const st = state(session);
      if (session.envelope.rcptTo.length >= cfg.maxRecipients) {
        smtpRcptRejected.inc({ reason: 'too_many' });
        return cb(new GatewayError('TOO_MANY_RECIPIENTS'));
      }
      // One transaction, one mailbox: a report is processed once, as what it was sent to.
      // A second mailbox is deferred (452, RFC 5321 §4.5.3.1.10) so the client resends it.
      if (st.target && (st.target.mailbox !== target.mailbox || st.target.token !== target.token)) {
        smtpRcptRejected.inc({ reason: 'second_mailbox' });
        return cb(new GatewayError('TOO_MANY_RECIPIENTS', 'Send to one mailbox per message; retry this recipient separately'));
      }
      st.target = target;
      cb();
    },
    onData(stream: SMTPServerDataStream, session, cb) {
      const started = Date.now();
      const target = state(session).target!;
      inFlight++;
      // A client that trickles its DATA must not hold the connection for ever.
      const slow = setTimeout(() => stream.destroy(new Error(`DATA not finished within ${cfg.dataTimeout} ms`)), cfg.dataTimeout);
      const at = { session: session.id, mailbox: target.mailbox };
      let release = () => {};
      const finish = (result: string, err: Error | null, message?: string) => {
        release();
        clearTimeout(slow);
        inFlight--;
        smtpMessages.inc({ mailbox: target.mailbox, result });
        cb(err, message);
      };
      dataSlot()
        .then((r) => {
          release = r;
          // A client that trickles its DATA gives its slot back: it holds little, and the
          // fast ones waiting behind it must not wait for its dataTimeout.
          // Judged after the poll phase (setImmediate): a timer that fires late because the
          // process was busy runs before the socket data that waited meanwhile is read.
          let lastChunk = performance.now();
          const trickling = setTimeout(
            () =>
              setImmediate(() => {
                if (performance.now() - lastChunk >= TRICKLE_MS) release();
                else trickling.refresh();
              }),
            TRICKLE_MS,
          );
          stream.on('data', () => {
            lastChunk = performance.now();
            trickling.refresh();
          });
          finished(stream, () => clearTimeout(trickling));
          return collect(stream, Math.min(cfg.maxSize, cfg.keepBytes), read);
        })
        .then(async ({ raw, size }) => {
          messageSize.observe(size);
          if (stream.sizeExceeded) {
            log.info({ ...at, code: 'SMTP_TOO_BIG', bytes: size }, 'message over the size limit');
            return finish('rejected', new GatewayError('MESSAGE_TOO_BIG', `Message exceeds the limit of ${cfg.maxSize} bytes`));
          }
          // Nothing below holds the kept bytes past ingest.accept (they may be a megabyte).
          const bytes = raw.length;
          const env = {
            mailbox: target.mailbox,
            token: target.token,
            mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            rcptTo: session.envelope.rcptTo.map((r) => r.address),
            clientIp: session.remoteAddress,
            helo: session.hostNameAppearsAs ?? '',
          };
          try {
            // What accept does before its first wait (the parse above all) holds the event
            // loop: every other connection waits that long. Judged on the CPU time it took,
            // not the wall clock, which also counts the time a busy machine gave to others.
            const t0 = performance.now();
            cpuClock.start(t0);
            const accepting = ingest.accept(raw, env, size);
            const blockedMs = performance.now() - t0;
            // CPU time never exceeds the wall clock on the one thread that ran it: only a
            // message that held the loop that long is judged on its CPU time.
            const cpuMs = blockedMs > cfg.blockedWarnMs ? cpuClock.since(t0) : 0;
            // Read and parsed: what is left is the wait for Redis (an fsync, a WAIT), which
            // holds only the kept bytes. Holding the slot through it would cap ingest at
            // dataConcurrency ÷ the write's latency (8 ÷ ~8 ms under appendfsync always).
            release();
            const acc = await accepting;
            if (cpuMs > cfg.blockedWarnMs) {
              loopBlocked.inc();
              log.warn(
                { ...at, code: 'EVENT_LOOP_BLOCKED', id: acc.id, kind: acc.report.kind, bytes, cpuMs: Math.round(cpuMs), blockedMs: Math.round(blockedMs) },
                'one message held the event loop',
              );
            }
            log.info(
              { ...at, id: acc.id, kind: acc.report.kind, result: acc.quarantined ? 'quarantined' : 'accepted', bytes, ms: Date.now() - started, rcptTo: env.rcptTo },
              'message recorded',
            );
            // abuse@: the reply names the case, so a reporter can refer to it.
            finish(acc.quarantined ? 'quarantined' : 'accepted', null, `2.0.0 Accepted <${acc.case?.caseId ?? acc.id}>`);
          } catch (err) {
            // ingest.accept logs and counts its bugs; anything else reaching here is one too.
            const ge = err instanceof GatewayError ? err : new GatewayError('INTERNAL_FAULT', undefined, { cause: err });
            log.warn({ ...at, code: ge.code, bytes, ms: Date.now() - started, err: (ge.cause as Error | undefined)?.message }, 'message not recorded');
            finish('tempfail', ge);
          }
        })
        .catch((err: Error) => {
          // The client went away mid-DATA: nothing was acknowledged, nothing recorded.
          log.info({ ...at, code: 'SMTP_DATA_ABORTED', err: err.message }, 'DATA aborted');
          finish('aborted', err);
        });
    },
  });
  server.on('error', (err) => log.error({ code: 'SMTP_SERVER_ERROR', err: err.message }, 'SMTP server error'));
  if (cfg.proxyFrom.length) installProxyV2(server as unknown as Parameters<typeof installProxyV2>[0]);

  return {
    get listening() {
      return listening;
    },
    listen() {
      return new Promise((resolve, reject) => {
        server.server.once('error', reject);
        server.listen(cfg.port, cfg.host, () => {
          server.server.off('error', reject);
          listening = true;
          resolve((server.server.address() as AddressInfo).port);
        });
      });
    },
    async stop(graceMs: number) {
      listening = false;
      clearInterval(flush);
      const closed = new Promise<void>((r) => server.close(() => r()));
      // Idle connections need not hold the shutdown: once no DATA is in flight, close them.
      const deadline = Date.now() + graceMs;
      while (inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      const conns = (server as unknown as { connections: Set<{ send(c: number, m: string): void; close(): void }> }).connections;
      for (const c of conns) {
        c.send(421, 'Server shutting down');
        c.close();
      }
      await closed;
    },
  };
}
