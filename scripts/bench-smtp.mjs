#!/usr/bin/env node
// SMTP ingest: realistic feedback reports (ARF, ~4 KB) and DSNs (~4 KB) at 1, 10 and 50
// concurrent connections, each connection reused for message after message, against
//   - the gateway (bin/gateway, as a child, its own redis-server in a temp dir, AOF
//     appendfsync "always", as `npm start` runs it),
//   - a bare smtp-server with the gateway's options that only drains DATA (the stack's limit),
//   - the bare server plus the gateway's own parse of each message, no Redis ("parse": the
//     limit for any gateway that parses before its 250 on this machine),
//   - "floor": the parse server plus one durable write before its 250: a SET of the
//     report (the size of the gateway's record) to a redis-server of its own with the
//     same appendfsync, nothing else (no dedup, counting, decision, log, metrics). No
//     gateway that keeps "250 only once the report is durable" can beat it here, so the
//     gateway's ratio to it says how much of the gap is the gateway's own work and how
//     much the durable write's (an fsync per batch, on the cores that run everything else),
//   - Postfix smtp-sink (the protocol's practical limit on this machine).
// Two drivers, both without pipelining (MAIL, RCPT, DATA, dot: four round trips a message):
//   - "node": our load generator (a worker thread). Every message is distinct (its own
//     recipient, token and Message-ID, 1000 accounts), so the gateway does the full work
//     of each: parse, suppress, count, record. It measures each message's time from MAIL
//     FROM to the 250 after the dot (p50/p99).
//   - "smtp-source": Postfix's generator, `-d` (reuse) `-F file`: the same file over and
//     over (so the gateway deduplicates every copy after the first); messages/s only.
// Everything runs on 127.0.0.1 and on this machine's cores, generators included: the node
// generator measures its own CPU per message too, and each row gives the bound the cores
// set at the gateway's cost (cores ÷ the CPU per message of the gateway, its Redis and the
// generator ÷ bare + parse's rate; a model, docs/benchmarks.md "what two cores allow").
//
// Each server first takes --warmup seconds of each kind unmeasured (at the highest
// concurrency): what is measured is the steady state, not V8 compiling the code of its
// first thousands of messages. Measured cold, the first cell paid for it: the gateway,
// whose path is the longest, ran its first 5 s at about half the rate of the next 5 s.
//
//   node scripts/bench-smtp.mjs [--seconds 3] [--warmup 3] [--conc 1,10,50] [--kinds arf,dsn]
//     [--servers gateway,bare,parse,floor,sink] [--no-source] [--appendfsync always] [--json]
//   node scripts/bench-smtp.mjs --pair DIR_A DIR_B [--rounds 4] [--conc 25] [--kinds arf] …
//     two builds of the gateway side by side, driven at once: B's CPU per message ÷ A's (pair()).
//   BENCH_GATEWAY_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' (or --trace-gc, --max-semi-space-size=8 …; later options win)
//   passes node options to the gateway child (after bin/gateway's own), for profiling it under this load.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

const root = new URL('..', import.meta.url).pathname;
const SECRET = 'a:bench-secret-0123456789abcdef-0123456789';
const MAX_SIZE = 10 * 1024 * 1024;

// ---------- messages ----------

const LOREM =
  'Spring is here and so are our best offers of the year. Take 30 % off everything in the ' +
  'garden range until Sunday, with free delivery on orders over 50 dollars. ';

function body(bytes) {
  let s = '';
  while (s.length < bytes) s += LOREM + '\n';
  return s.slice(0, bytes);
}

/** The original message as the platform sent it: the headers a real campaign carries. */
function original(account, campaign, recipient, token, i) {
  return [
    `Received: from mta7.platform.example (mta7.platform.example [198.51.100.7]) by mx3.isp.example with ESMTPS id 4Zx${i}; Thu, 8 Mar 2026 14:00:00 +0000`,
    'Received: from app.platform.example (10.1.2.3) by mta7.platform.example (Postfix) with ESMTP; Thu, 8 Mar 2026 13:59:58 +0000',
    'DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=customer.example; s=pm; t=1772978398; h=from:to:subject:date:message-id:list-unsubscribe; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=dzdVyOfAKCdLXdJOc9G2q8LoXSlEniSbav+yuU4zGeeruD00lszZVoG4ZHRNiYzR',
    'From: "Customer News" <news@customer.example>',
    `To: ${recipient}`,
    'Subject: Our spring sale starts today',
    'Date: Thu, 8 Mar 2026 13:59:58 +0000',
    `Message-ID: <${account}.${campaign}.${i}@mta7.platform.example>`,
    `List-Unsubscribe: <https://u.platform.example/u/${token}>, <mailto:unsubscribe+x@platform.example>`,
    'List-Unsubscribe-Post: List-Unsubscribe=One-Click',
    `X-Abuse-Token: ${token}`,
    `Feedback-ID: ${campaign}:${account}:newsletter:platform`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    '',
    body(1700),
    `Unsubscribe: https://u.platform.example/u/${token}`,
  ].join('\n');
}

function arf(codec, i) {
  const account = `acct-${i % 1000}`;
  const campaign = `spring-${i % 7}`;
  const recipient = `reader${i}@example.org`;
  const token = codec.mintLong({ account, campaign, recipient });
  return [
    'From: Mail Feedback <staff@hotmail.example>',
    'To: fbl@localhost',
    'Subject: complaint about message from 198.51.100.7',
    `Message-ID: <fbl.${i}.${Date.now()}@isp.example>`,
    'Date: Thu, 8 Mar 2026 14:05:00 +0000',
    'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=feedback-report; boundary="b1_fbl"',
    '',
    '--b1_fbl',
    'Content-Type: text/plain; charset=us-ascii',
    '',
    'This is an email abuse report for an email message received from IP 198.51.100.7 on',
    'Thu, 8 Mar 2026 14:00:00 +0000. For more information about this format please see',
    'http://www.mipassoc.org/arf/.',
    '',
    '--b1_fbl',
    'Content-Type: message/feedback-report',
    '',
    'Feedback-Type: abuse',
    'User-Agent: ExampleFBL/1.0',
    'Version: 1',
    'Original-Mail-From: <bounces+x@platform.example>',
    `Original-Rcpt-To: ${recipient}`,
    'Arrival-Date: Thu, 8 Mar 2026 14:00:00 +0000',
    'Reporting-MTA: dns; mx3.isp.example',
    'Source-IP: 198.51.100.7',
    '',
    '--b1_fbl',
    'Content-Type: message/rfc822',
    'Content-Disposition: inline',
    '',
    original(account, campaign, recipient, token, i),
    '',
    '--b1_fbl--',
    '',
  ].join('\n');
}

function dsnMessage(codec, i) {
  const account = `acct-${i % 1000}`;
  const campaign = `spring-${i % 7}`;
  const recipient = `gone${i}@example.net`;
  const token = codec.mintLong({ account, campaign, recipient });
  const hard = i % 4 !== 3;
  return [
    'From: MAILER-DAEMON@mx.receiver.example (Mail Delivery System)',
    `To: bounces+${codec.mintShort({ account, campaign })}@localhost`,
    'Subject: Undelivered Mail Returned to Sender',
    `Message-ID: <dsn.${i}.${Date.now()}@mx.receiver.example>`,
    'Date: Thu, 8 Mar 2026 14:00:05 +0000',
    'Auto-Submitted: auto-replied',
    'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=delivery-status; boundary="b2_dsn"',
    '',
    '--b2_dsn',
    'Content-Description: Notification',
    'Content-Type: text/plain; charset=us-ascii',
    '',
    'This is the mail system at host mx.receiver.example.',
    '',
    "I'm sorry to have to inform you that your message could not",
    'be delivered to one or more recipients. It\'s attached below.',
    '',
    `<${recipient}>: host mx.example.net[203.0.113.5] said: ${hard ? '550 5.1.1 <' + recipient + '>: Recipient address rejected: User unknown' : '452 4.2.2 Mailbox full'} (in reply to RCPT TO command)`,
    '',
    '--b2_dsn',
    'Content-Description: Delivery report',
    'Content-Type: message/delivery-status',
    '',
    'Reporting-MTA: dns; mx.receiver.example',
    'X-Postfix-Queue-ID: 4Zx3k1',
    'Arrival-Date: Thu, 8 Mar 2026 14:00:00 +0000',
    '',
    `Final-Recipient: rfc822; ${recipient}`,
    `Original-Recipient: rfc822;${recipient}`,
    'Action: failed',
    `Status: ${hard ? '5.1.1' : '4.2.2'}`,
    'Remote-MTA: dns; mx.example.net',
    `Diagnostic-Code: smtp; ${hard ? '550 5.1.1 User unknown' : '452 4.2.2 Mailbox full'}`,
    '',
    '--b2_dsn',
    'Content-Description: Undelivered Message',
    'Content-Type: message/rfc822',
    '',
    original(account, campaign, recipient, token, i),
    '',
    '--b2_dsn--',
    '',
  ].join('\n');
}

/** CRLF, dot-stuffed, with the terminating dot: what goes on the wire after DATA. */
function wire(text) {
  return Buffer.from(text.replace(/\r?\n/g, '\r\n').replace(/^\./gm, '..') + '\r\n.\r\n', 'latin1');
}

function envelopeOf(text) {
  const to = /^To: (.*)$/m.exec(text)[1].trim();
  return { from: to.startsWith('fbl@') ? 'fbl@isp.example' : '', to };
}

// ---------- load generator (worker thread) ----------

async function drive({ port, kind, conc, seconds, maxMessages, offset }) {
  const { createTokenCodec, parseTokenSecrets } = await import(new URL('../dist/token/token.js', import.meta.url));
  const codec = createTokenCodec(parseTokenSecrets(SECRET));
  const make = kind === 'arf' ? arf : dsnMessage;

  function open() {
    return new Promise((resolve, reject) => {
      const sock = connect({ port, host: '127.0.0.1' });
      sock.setNoDelay(true);
      let buf = '';
      let waiter = null;
      sock.setEncoding('latin1');
      sock.on('data', (d) => {
        buf += d;
        for (;;) {
          const nl = buf.indexOf('\n');
          if (nl < 0) break;
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (line[3] === '-') continue;
          const w = waiter;
          waiter = null;
          w?.(Number(line.slice(0, 3)), line);
        }
      });
      sock.on('error', (e) => (waiter ? waiter(0, e.message) : reject(e)));
      sock.on('close', () => waiter?.(0, 'closed'));
      const c = {
        read: () => new Promise((r) => (waiter = (code, line) => r({ code, line }))),
        async cmd(s) {
          const p = c.read();
          sock.write(s);
          return p;
        },
        close: () => sock.end('QUIT\r\n'),
      };
      c.read().then(async (g) => {
        if (g.code !== 220) return reject(new Error(`greeting ${g.line}`));
        const e = await c.cmd('EHLO bench.example\r\n');
        if (e.code !== 250) return reject(new Error(`EHLO ${e.line}`));
        resolve(c);
      });
    });
  }

  // The messages are made before the clock starts: the generator measures the server.
  const pool = Array.from({ length: maxMessages }, (_, k) => {
    const text = make(codec, offset + k);
    const env = envelopeOf(text);
    return { mail: `MAIL FROM:<${env.from}>\r\n`, rcpt: `RCPT TO:<${env.to}>\r\n`, data: wire(text) };
  });
  const conns = await Promise.all(Array.from({ length: conc }, open));
  // The main thread reads the servers' CPU time now, then lets the load start.
  parentPort.postMessage({ ready: true });
  await new Promise((r) => parentPort.once('message', r));
  let next = 0;
  const latencies = [];
  const codes = {};
  let firstBad = null;
  const cpu0 = threadCpuSeconds();
  const t0 = performance.now();
  const until = t0 + seconds * 1000;
  await Promise.all(
    conns.map(async (c) => {
      while (performance.now() < until && next < pool.length) {
        const m = pool[next++];
        const s = performance.now();
        let r = await c.cmd(m.mail);
        if (r.code === 250) r = await c.cmd(m.rcpt);
        if (r.code === 250) r = await c.cmd('DATA\r\n');
        if (r.code === 354) r = await c.cmd(m.data);
        else if (r.code !== 0) await c.cmd('RSET\r\n');
        latencies.push(performance.now() - s);
        codes[r.code] = (codes[r.code] ?? 0) + 1;
        if (r.code !== 250) firstBad ??= r.line;
        if (r.code === 0) return;
      }
    }),
  );
  const elapsed = (performance.now() - t0) / 1000;
  const cpu1 = threadCpuSeconds();
  for (const c of conns) c.close();
  const sorted = Float64Array.from(latencies).sort();
  const pct = (p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : 0);
  return {
    messages: latencies.length,
    accepted: codes[250] ?? 0,
    codes,
    firstBad,
    seconds: Number(elapsed.toFixed(3)),
    perSecond: Math.round((codes[250] ?? 0) / elapsed),
    p50ms: Number(pct(50).toFixed(2)),
    p99ms: Number(pct(99).toFixed(2)),
    bytes: pool[0].data.length,
    poolExhausted: next >= pool.length,
    // The generator's own CPU per message: on this machine it shares the cores with the server.
    driverCpuMsPerMessage: cpu0 !== null && cpu1 !== null && latencies.length ? Number(((1000 * (cpu1 - cpu0)) / latencies.length).toFixed(3)) : null,
  };
}

if (!isMainThread) {
  drive(workerData).then((r) => parentPort.postMessage(r), (e) => parentPort.postMessage({ error: e.message }));
}

/**
 * Runs the load generator; `pids`: the server's processes, whose CPU time per accepted message
 * is measured. `start(go)` is called once its connections are open and its messages made: the
 * load starts when it calls `go` (--pair starts two generators together).
 */
function runDriver(opts, pids, start = (go) => go()) {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL(import.meta.url), { workerData: opts });
    let cpu0 = [];
    w.on('message', (r) => {
      if (r.ready) {
        return start(() => {
          cpu0 = pids.map((pid) => cpuSeconds([pid]));
          w.postMessage('go');
        });
      }
      if (r.error) return reject(new Error(r.error));
      // Per process too: the server's own, then (the gateway) its redis-server's.
      const each = pids.map((pid, i) => cpuSeconds([pid]) - cpu0[i]);
      const perMessage = (s) => Number(((1000 * s) / r.accepted).toFixed(2));
      resolve({ ...r, cpuMsPerMessage: pids.length && r.accepted ? perMessage(each.reduce((a, b) => a + b, 0)) : null, cpuMsPerMessageByProcess: r.accepted ? each.map(perMessage) : [] });
    });
    w.once('error', reject);
  });
}

// ---------- servers ----------

const CORES = availableParallelism();
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100;

/** utime + stime of a /proc stat file, in seconds. */
function statCpuSeconds(path) {
  const stat = readFileSync(path, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}

/** CPU seconds (user + system) the processes have used so far (/proc/<pid>/stat, utime + stime). */
function cpuSeconds(pids) {
  let s = 0;
  for (const pid of pids) s += statCpuSeconds(`/proc/${pid}/stat`);
  return s;
}

/** CPU seconds of the calling thread (the generator's worker), or null off Linux. */
function threadCpuSeconds() {
  try {
    return statCpuSeconds('/proc/thread-self/stat');
  } catch {
    return null;
  }
}

function freePort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function waitFor(fn, ms, what) {
  const until = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > until) throw new Error(`${what}: not ready after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const canConnect = (port) =>
  new Promise((r) => {
    const s = connect({ port, host: '127.0.0.1' });
    s.once('connect', () => (s.destroy(), r(true)));
    s.once('error', () => r(false));
  });

async function startGateway(dir, appendfsync, gatewayRoot = root) {
  const cfg = join(dir, 'bench.yaml');
  writeFileSync(
    cfg,
    [
      'smtp:',
      '  host: 127.0.0.1',
      // The bench sends everything from 127.0.0.1: the per-client limits stay on (their
      // Redis counter is part of the work per message) but out of reach.
      '  connectionsPerMinute: 1000000000',
      '  messagesPerMinute: 1000000000',
      '  connectionsPerIp: 0',
      'http:',
      '  host: 127.0.0.1',
      'policy:',
      '  port: 0',
      'redis:',
      `  local: { dir: ${JSON.stringify(join(dir, 'redis'))}, appendfsync: ${appendfsync} }`,
    ].join('\n'),
  );
  const logPath = join(dir, 'gateway.log');
  const fd = openSync(logPath, 'w');
  const proc = spawn('sh', [join(gatewayRoot, 'bin/gateway'), ...(process.env.BENCH_GATEWAY_NODE_ARGS ?? '').split(' ').filter(Boolean)], {
    cwd: dir,
    // The load generator plays the ISP: its reports are trusted by IP range, as a real
    // feedback loop's are by its signature (this machine has no DNS for DKIM lookups).
    env: { PATH: process.env.PATH, ABUSEGATE_CONFIG: cfg, ABUSEGATE_SMTP_PORT: '0', ABUSEGATE_HTTP_PORT: '0', ABUSEGATE_POLICY_PORT: '0', ABUSEGATE_TOKEN_SECRET: SECRET, ABUSEGATE_TRUSTED_REPORTERS: '127.0.0.0/8' },
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  const started = await waitFor(
    () => {
      if (proc.exitCode !== null) throw new Error(`gateway exited: ${readFileSync(logPath, 'utf8').slice(-1000)}`);
      const line = readFileSync(logPath, 'utf8').split('\n').find((l) => l.includes('"STARTED"'));
      return line ? JSON.parse(line) : null;
    },
    30_000,
    'gateway',
  );
  // The gateway's CPU is its own and its redis-server's (started by it, pid file in its dir).
  const redisPid = Number(readFileSync(join(dir, 'redis', 'redis.pid'), 'utf8'));
  const sock = join(dir, 'redis', 'redis.sock');
  const redisStats = () => {
    const info = spawnSync('redis-cli', ['-s', sock, 'info', 'all'], { encoding: 'utf8' }).stdout ?? '';
    const aof = Number(/^aof_current_size:(\d+)/m.exec(info)?.[1] ?? 0);
    let usec = 0;
    for (const m of info.matchAll(/^cmdstat_[^:]+:calls=\d+,usec=(\d+)/gm)) usec += Number(m[1]);
    return { aof, usec };
  };
  return { port: started.smtp, pid: proc.pid, pids: [proc.pid, redisPid], redisStats, stop: () => stopProc(proc, 'SIGTERM') };
}

function stopProc(proc, sig) {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((r) => {
    const t = setTimeout(() => proc.kill('SIGKILL'), 10_000);
    proc.once('exit', () => (clearTimeout(t), r()));
    proc.kill(sig);
  });
}

async function startBare(mode = '--bare-server') {
  const proc = spawn(process.execPath, [new URL(import.meta.url).pathname, mode], { stdio: ['ignore', 'pipe', 'inherit'] });
  const first = await new Promise((resolve, reject) => {
    proc.stdout.once('data', (d) => resolve(JSON.parse(String(d))));
    proc.once('exit', (c) => reject(new Error(`bare server exited ${c}`)));
  });
  // The floor's CPU is its own and its redis-server's, as the gateway's is.
  return { port: first.port, pid: proc.pid, pids: [proc.pid, ...(first.redisPid ? [first.redisPid] : [])], stop: () => stopProc(proc, 'SIGTERM') };
}

/** smtp-server with the gateway's options (and `onData`), listening on a free port. */
async function benchServer(banner, handlers, extra = {}, cleanup = async () => {}) {
  const { SMTPServer } = await import('smtp-server');
  const server = new SMTPServer({
    name: 'abusegate.localhost',
    banner,
    size: MAX_SIZE,
    maxClients: 500,
    socketTimeout: 60_000,
    disableReverseLookup: true,
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    logger: false,
    ...handlers,
  });
  server.listen(0, '127.0.0.1', () => process.stdout.write(JSON.stringify({ port: server.server.address().port, ...extra }) + '\n'));
  process.on('SIGTERM', () => server.close(() => cleanup().then(() => process.exit(0))));
  return server;
}

/** The bare server: smtp-server with the gateway's options, DATA drained and dropped. */
async function bareServer() {
  await benchServer('bare', {
    onData(stream, _session, cb) {
      stream.on('end', () => (stream.sizeExceeded ? cb(Object.assign(new Error('too big'), { responseCode: 552 })) : cb(null, 'Accepted')));
      stream.resume();
    },
  });
}

/**
 * The parse server: the bare server plus what the gateway does in-process before its 250,
 * short of Redis — keep the first bytes of DATA, route by mailbox, parse (ARF/DSN, token
 * verification, attribution) with the gateway's own parser and configuration. Its figure is
 * the ceiling for any gateway that parses before answering, on this machine.
 */
/** The gateway's own parse of a message (the parse and floor servers), with its configuration. */
async function parser() {
  const { loadConfig } = await import(new URL('../dist/config/load.js', import.meta.url));
  const { parseMessage } = await import(new URL('../dist/parse/index.js', import.meta.url));
  const { loadBounceRules } = await import(new URL('../dist/parse/bounce/index.js', import.meta.url));
  const { resolveMailbox } = await import(new URL('../dist/smtp/mailbox.js', import.meta.url));
  const { createTokenCodec, parseTokenSecrets } = await import(new URL('../dist/token/token.js', import.meta.url));
  const config = loadConfig({ env: {} });
  const opts = {
    codec: createTokenCodec(parseTokenSecrets(SECRET)),
    tokenHeader: config.tokens.header,
    bounceRules: loadBounceRules(),
    limits: { maxDepth: config.smtp.maxMimeDepth, maxParts: config.smtp.maxMimeParts },
    phoneRegions: config.phone.regions,
  };
  const keep = Math.min(config.smtp.maxSize, config.smtp.keepBytes);
  /** onData: keep the first bytes of DATA, route by mailbox, parse, then `after(report)` gives the reply. */
  return (after) =>
    function onData(stream, session, cb) {
      const target = resolveMailbox(session.envelope.rcptTo[0].address, config.smtp);
      const chunks = [];
      let kept = 0;
      stream.on('data', (c) => {
        if (kept < keep) (chunks.push(c.subarray(0, keep - kept)), (kept += Math.min(c.length, keep - kept)));
      });
      stream.on('end', () => {
        if (stream.sizeExceeded) return cb(Object.assign(new Error('too big'), { responseCode: 552 }));
        const report = parseMessage(Buffer.concat(chunks, kept), { ...opts, mailbox: target?.mailbox ?? 'fbl', envelopeToken: target?.token });
        after(report).then((text) => cb(null, text), (err) => cb(Object.assign(err, { responseCode: 451 })));
      });
    };
}

/**
 * The parse server: the bare server plus what the gateway does in-process before its 250,
 * short of Redis — keep the first bytes of DATA, route by mailbox, parse (ARF/DSN, token
 * verification, attribution) with the gateway's own parser and configuration. Its figure is
 * the ceiling for any gateway that parses before answering, on this machine.
 */
async function parseServer() {
  const onData = (await parser())(async (report) => `Accepted ${report.kind}`);
  await benchServer('parse', { onData });
}

/**
 * The floor: the parse server plus one durable write before the 250 — the report as one
 * JSON string (about the size of the gateway's record) SET into a redis-server of its own,
 * started as the gateway starts its own (appendfsync from --appendfsync, over its socket).
 */
async function floorServer(appendfsync) {
  const { startLocalRedis } = await import(new URL('../dist/store/local.js', import.meta.url));
  const { createRedis } = await import(new URL('../dist/store/redis.js', import.meta.url));
  const dir = mkdtempSync(join(tmpdir(), 'ag-bench-floor-'));
  const local = await startLocalRedis({ dir, appendfsync });
  const redis = createRedis({ url: local.url, commandTimeout: 10_000 });
  await redis.connect();
  let n = 0;
  const onData = (await parser())(async (report) => {
    const id = `r${process.pid}.${n++}`;
    await redis.set(id, JSON.stringify({ id, kind: report.kind, attribution: report.attribution, recipients: report.recipients, at: Date.now() }));
    return `Accepted ${report.kind} <${id}>`;
  });
  await benchServer('floor', { onData }, { redisPid: Number(readFileSync(join(dir, 'redis.pid'), 'utf8')) }, async () => {
    redis.disconnect();
    await local.stop();
    rmSync(dir, { recursive: true, force: true });
  });
}

async function startSink() {
  const port = await freePort();
  const asRoot = process.getuid?.() === 0;
  const proc = spawn('smtp-sink', [...(asRoot ? ['-u', 'nobody'] : []), `127.0.0.1:${port}`, '1024'], { stdio: 'ignore' });
  await waitFor(() => canConnect(port), 5000, 'smtp-sink');
  return { port, pid: proc.pid, pids: [proc.pid], stop: () => stopProc(proc, 'SIGTERM') };
}

// ---------- smtp-source ----------

function smtpSource(port, file, env, conc, count) {
  const args = ['-s', String(conc), '-m', String(count), '-d', '-F', file, '-M', 'bench.example', '-f', env.from, '-t', env.to, `127.0.0.1:${port}`];
  const t0 = performance.now();
  const r = spawnSync('smtp-source', args, { encoding: 'utf8', timeout: 60_000 });
  const seconds = (performance.now() - t0) / 1000;
  if (r.status !== 0) return { error: (r.stderr || r.stdout || String(r.error)).trim().slice(0, 300), seconds };
  return { messages: count, seconds: Number(seconds.toFixed(3)), perSecond: Math.round(count / seconds) };
}

// ---------- main ----------

function parseArgs(argv) {
  const o = { seconds: 3, warmup: 3, conc: [1, 10, 50], kinds: ['arf', 'dsn'], servers: ['gateway', 'bare', 'parse', 'floor', 'sink'], source: true, appendfsync: 'always', json: false, max: 15_000, pair: null, rounds: 4 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--json') o.json = true;
    else if (a === '--no-source') o.source = false;
    else if (a === '--seconds') o.seconds = Number(argv[++i]);
    else if (a === '--warmup') o.warmup = Number(argv[++i]);
    else if (a === '--max') o.max = Number(argv[++i]);
    else if (a === '--conc') (o.conc = argv[++i].split(',').map(Number)), (o.concGiven = true);
    else if (a === '--kinds') o.kinds = argv[++i].split(',');
    else if (a === '--servers') o.servers = argv[++i].split(',');
    else if (a === '--appendfsync') o.appendfsync = argv[++i];
    else if (a === '--pair') o.pair = [argv[++i], argv[++i]];
    else if (a === '--rounds') o.rounds = Number(argv[++i]);
    else throw new Error(`unknown argument ${a}`);
  }
  return o;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/**
 * --pair A B: two gateways (checkouts A and B, each built, `dist/` and `bin/gateway`), each
 * with its own redis-server, driven at the same time by a load generator each, round after
 * round. What it says is B's cost against A's: the gateway process's CPU per message (and
 * its redis-server's, and messages/s) as B ÷ A per round, and their medians. Measured one
 * after the other, a gateway's CPU per message moved by up to 60 % within a minute on this
 * project's 2-vCPU VM (the host's load changes under it); measured together, both meet the
 * same machine: a gateway paired with itself read 0.99 (rounds 0.89–1.27). It compares two
 * versions of the gateway; the goal's ratio (against bare + parse) is main()'s.
 */
async function pair(o) {
  const kind = o.kinds[0];
  // 25 each: the two gateways together take the 50 connections of the goal's second cell.
  const conc = o.concGiven ? o.conc[0] : 25;
  const dir = mkdtempSync(join(tmpdir(), 'ag-bench-pair-'));
  const log = (s) => !o.json && process.stderr.write(s + '\n');
  const gws = [];
  const rounds = [];
  try {
    for (const [i, r] of o.pair.entries()) {
      const d = join(dir, String(i));
      mkdirSync(d);
      gws.push(await startGateway(d, o.appendfsync, r));
    }
    /** Both generators at once: each starts when both have their connections and messages. */
    const together = async (seconds, measure, offset) => {
      let waiting = gws.length;
      const gos = [];
      const start = (go) => {
        gos.push(go);
        if (--waiting === 0) for (const g of gos) g();
      };
      return Promise.all(gws.map((g, i) => runDriver({ port: g.port, kind, conc, seconds, maxMessages: o.max, offset: offset + i * o.max }, measure ? g.pids : [], start)));
    };
    let offset = 0;
    if (o.warmup > 0) await together(o.warmup, false, (offset += 2 * o.max));
    for (let n = 0; n < o.rounds; n++) {
      const [a, b] = await together(o.seconds, true, (offset += 2 * o.max));
      const round = {
        a: { perSecond: a.perSecond, cpuMsPerMessage: a.cpuMsPerMessageByProcess, driverCpuMsPerMessage: a.driverCpuMsPerMessage, firstBad: a.firstBad },
        b: { perSecond: b.perSecond, cpuMsPerMessage: b.cpuMsPerMessageByProcess, driverCpuMsPerMessage: b.driverCpuMsPerMessage, firstBad: b.firstBad },
        gatewayCpu: Number((b.cpuMsPerMessageByProcess[0] / a.cpuMsPerMessageByProcess[0]).toFixed(3)),
        redisCpu: Number((b.cpuMsPerMessageByProcess[1] / a.cpuMsPerMessageByProcess[1]).toFixed(3)),
        perSecond: Number((b.perSecond / a.perSecond).toFixed(3)),
      };
      rounds.push(round);
      log(`round ${n + 1}: A ${a.perSecond} msg/s, ${a.cpuMsPerMessageByProcess.join(' + ')} ms/msg; B ${b.perSecond} msg/s, ${b.cpuMsPerMessageByProcess.join(' + ')} ms/msg; B/A gateway CPU ${round.gatewayCpu}, redis CPU ${round.redisCpu}, msg/s ${round.perSecond}`);
    }
  } finally {
    for (const g of gws) await g.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const out = {
    bench: 'smtp-pair',
    a: o.pair[0],
    b: o.pair[1],
    kind,
    conc,
    seconds: o.seconds,
    appendfsync: o.appendfsync,
    rounds,
    gatewayCpu: Number(median(rounds.map((r) => r.gatewayCpu)).toFixed(3)),
    redisCpu: Number(median(rounds.map((r) => r.redisCpu)).toFixed(3)),
    perSecond: Number(median(rounds.map((r) => r.perSecond)).toFixed(3)),
  };
  if (o.json) console.log(JSON.stringify(out));
  else console.log(`B ÷ A (medians of ${rounds.length} rounds, ${kind}, ${conc} connections each): gateway CPU per message ${out.gatewayCpu}, its redis-server's ${out.redisCpu}, messages/s ${out.perSecond}`);
  process.exit(0);
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  if (o.pair) return pair(o);
  const hasSource = o.source && !spawnSync('smtp-source', [], { stdio: 'ignore' }).error;
  const hasSink = !spawnSync('smtp-sink', [], { stdio: 'ignore' }).error;
  const dir = mkdtempSync(join(tmpdir(), 'ag-bench-smtp-'));
  const log = (s) => !o.json && process.stderr.write(s + '\n');
  const { createTokenCodec, parseTokenSecrets } = await import(new URL('../dist/token/token.js', import.meta.url));
  const codec = createTokenCodec(parseTokenSecrets(SECRET));
  const files = {};
  for (const kind of o.kinds) {
    const text = kind === 'arf' ? arf(codec, 999_999_999) : dsnMessage(codec, 999_999_999);
    files[kind] = { path: join(dir, `${kind}.eml`), env: envelopeOf(text), bytes: wire(text).length };
    writeFileSync(files[kind].path, text);
  }

  // All three servers run side by side and each cell is measured on the three back to back,
  // so that a ratio compares figures taken under the same conditions.
  const results = [];
  let offset = 0;
  const servers = {};
  try {
    for (const server of o.servers) {
      if (server === 'sink' && !hasSink) continue;
      servers[server] = server === 'gateway' ? await startGateway(dir, o.appendfsync) : server === 'bare' ? await startBare() : server === 'parse' ? await startBare('--parse-server') : server === 'floor' ? await startBare(`--floor-server=${o.appendfsync}`) : await startSink();
    }
    if (o.warmup > 0) {
      for (const kind of o.kinds) {
        for (const s of Object.values(servers)) {
          await runDriver({ port: s.port, kind, conc: Math.max(...o.conc), seconds: o.warmup, maxMessages: o.max, offset }, []);
          offset += o.max;
        }
      }
    }
    for (const kind of o.kinds) {
      for (const conc of o.conc) {
        for (const [server, s] of Object.entries(servers)) {
          // The messages are made before the driver's clock starts (and before this reading).
          const redis0 = s.redisStats?.();
          const r = await runDriver({ port: s.port, kind, conc, seconds: o.seconds, maxMessages: o.max, offset }, s.pids);
          if (redis0 && r.accepted) {
            // What each message cost its redis-server: AOF bytes (each one fsynced before
            // the 250 under appendfsync always) and command time (INFO commandstats).
            const redis1 = s.redisStats();
            r.aofBytesPerMessage = Math.round((redis1.aof - redis0.aof) / r.accepted);
            r.redisUsPerMessage = Math.round((redis1.usec - redis0.usec) / r.accepted);
          }
          offset += o.max;
          results.push({ server, driver: 'node', kind, conc, ...r });
          log(`${server.padEnd(8)} node        ${kind} c=${String(conc).padStart(2)}  ${String(r.perSecond).padStart(6)} msg/s  p50 ${r.p50ms} ms  p99 ${r.p99ms} ms  CPU ${r.cpuMsPerMessage} ms/msg  (${r.accepted}/${r.messages} accepted${r.firstBad ? ', first other reply: ' + r.firstBad : ''})`);
        }
        if (!hasSource) continue;
        for (const [server, s] of Object.entries(servers)) {
          // About as many messages as the node driver managed in the same time (bounded).
          const node = results.find((r) => r.server === server && r.driver === 'node' && r.kind === kind && r.conc === conc);
          const count = Math.max(200, Math.min(o.max, Math.round(node.perSecond * o.seconds)));
          const sr = smtpSource(s.port, files[kind].path, files[kind].env, conc, count);
          results.push({ server, driver: 'smtp-source', kind, conc, bytes: files[kind].bytes, ...sr });
          log(`${server.padEnd(8)} smtp-source ${kind} c=${String(conc).padStart(2)}  ${String(sr.perSecond ?? '-').padStart(6)} msg/s  ${sr.error ?? ''}`);
        }
      }
    }
  } finally {
    for (const s of Object.values(servers)) await s.stop();
    rmSync(dir, { recursive: true, force: true });
  }

  const find = (server, driver, kind, conc) => results.find((r) => r.server === server && r.driver === driver && r.kind === kind && r.conc === conc);
  const rows = [];
  for (const driver of ['node', 'smtp-source']) {
    for (const kind of o.kinds) {
      for (const conc of o.conc) {
        const g = find('gateway', driver, kind, conc);
        const b = find('bare', driver, kind, conc);
        const k = find('sink', driver, kind, conc);
        const pz = find('parse', driver, kind, conc);
        const fl = find('floor', driver, kind, conc);
        if (!g?.perSecond) continue;
        const lat = driver === 'node' ? `, p50 ${g.p50ms} / p99 ${g.p99ms} ms to the 250` : '';
        const cpu = (r) => (r?.cpuMsPerMessage ? `, CPU ${r.cpuMsPerMessage} ms/msg` : '');
        // The goal compares with bare + parse: the limit of any gateway that parses before its 250.
        const ratio = pz?.perSecond ? g.perSecond / pz.perSecond : null;
        // What this machine allows the gateway at its measured cost: every core busy with the
        // gateway, its redis-server and the generator (the generator's cost a message included),
        // as bare + parse with its generator keeps them. A bound, not a measurement.
        const machine = (r) => (r?.cpuMsPerMessage && r.driverCpuMsPerMessage ? r.cpuMsPerMessage + r.driverCpuMsPerMessage : null);
        const bound = machine(g) && pz?.perSecond ? (1000 * CORES) / machine(g) / pz.perSecond : null;
        rows.push({
          section: 'SMTP ingest',
          figure: `${kind.toUpperCase()} ${driver === 'node' ? 'distinct' : 'same file'}, ${conc} conn, driver ${driver}: gateway msg/s${lat}${cpu(g)} (gateway + its redis-server)`,
          value: g.perSecond,
          unit: 'msg/s',
          baseline: pz?.perSecond ?? null,
          baselineLabel: `bare + parse${cpu(pz)}; floor (parse + one fsynced SET) ${fl?.perSecond ?? '-'}${cpu(fl)}${fl?.perSecond ? `, gateway ${(g.perSecond / fl.perSecond).toFixed(2)} of it` : ''}; bare smtp-server ${b?.perSecond ?? '-'}${b?.p50ms !== undefined ? ` (p50 ${b.p50ms} / p99 ${b.p99ms} ms)` : ''}${pz?.perSecond && b?.perSecond ? `, bare + parse ${(pz.perSecond / b.perSecond).toFixed(2)} of it` : ''}; smtp-sink ${k?.perSecond ?? '-'}${bound !== null ? `; ${CORES} cores at the gateway's CPU per message (+ the generator's ${g.driverCpuMsPerMessage} ms) allow at most ${bound.toFixed(2)} of bare + parse` : ''}`,
          ratio: ratio === null ? null : Number(ratio.toFixed(2)),
          goal: 'ratio to bare + parse ≥ 0.5',
          met: ratio === null ? null : ratio >= 0.5,
          p50ms: g.p50ms,
          p99ms: g.p99ms,
          cpuMsPerMessage: g.cpuMsPerMessage ?? null,
          bare: b?.perSecond ?? null,
          sink: k?.perSecond ?? null,
          parseOnly: pz?.perSecond ?? null,
          floor: fl?.perSecond ?? null,
          floorCpuMsPerMessage: fl?.cpuMsPerMessage ?? null,
          floorRatio: pz?.perSecond && fl?.perSecond ? Number((fl.perSecond / pz.perSecond).toFixed(2)) : null,
          ratioToFloor: fl?.perSecond ? Number((g.perSecond / fl.perSecond).toFixed(2)) : null,
          parseCpuMsPerMessage: pz?.cpuMsPerMessage ?? null,
          driverCpuMsPerMessage: g.driverCpuMsPerMessage ?? null,
          parseDriverCpuMsPerMessage: pz?.driverCpuMsPerMessage ?? null,
          // Cores bare + parse and its generator kept busy; the bound the gateway's cost allows.
          parseCores: machine(pz) ? Number(((pz.perSecond * machine(pz)) / 1000).toFixed(2)) : null,
          machineBound: bound === null ? null : Number(bound.toFixed(2)),
          parseOnlyRatio: pz?.perSecond && b?.perSecond ? Number((pz.perSecond / b.perSecond).toFixed(2)) : null,
        });
      }
    }
  }
  const out = { bench: 'smtp', appendfsync: o.appendfsync, seconds: o.seconds, warmupSeconds: o.warmup, messageBytes: Object.fromEntries(Object.entries(files).map(([k, f]) => [k, f.bytes])), results, rows };
  if (o.json) console.log(JSON.stringify(out));
  else for (const r of rows) console.log(`${r.figure}: ${r.value} (bare + parse ${r.parseOnly}${r.parseCpuMsPerMessage ? `, CPU ${r.parseCpuMsPerMessage} ms/msg` : ''}; floor ${r.floor ?? '-'} = ${r.floorRatio ?? '-'} of bare + parse; bare ${r.bare}, sink ${r.sink}) ratio to bare + parse ${r.ratio} ${r.met ? 'met' : 'NOT met'}, to the floor ${r.ratioToFloor ?? '-'}; generator ${r.driverCpuMsPerMessage ?? '-'} ms/msg (bare + parse's ${r.parseDriverCpuMsPerMessage ?? '-'}, which kept ${r.parseCores ?? '-'} cores busy); this machine's bound at the gateway's cost ${r.machineBound ?? '-'}`);
  process.exit(0);
}

if (isMainThread) {
  if (process.argv.includes('--bare-server')) bareServer();
  else if (process.argv.includes('--parse-server')) parseServer();
  else if (process.argv[2]?.startsWith('--floor-server=')) floorServer(process.argv[2].slice('--floor-server='.length));
  // Only the driver, against a server of your own: --drive PORT KIND CONC SECONDS
  else if (process.argv[2] === '--drive') {
    const [port, kind, conc, seconds] = process.argv.slice(3);
    runDriver({ port: Number(port), kind, conc: Number(conc), seconds: Number(seconds), maxMessages: 15_000, offset: Date.now() % 1e9 }, []).then((r) => console.log(JSON.stringify(r)));
  }
  else main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
