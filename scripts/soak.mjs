#!/usr/bin/env node
// A bounded soak: the gateway (bin/gateway, its own embedded Redis in a temp dir) under a
// steady mixed load on 127.0.0.1 for N minutes — ARF complaints to fbl@, DSNs to VERP
// addresses, abuse@ mail, the abuse form, suppression lookups, send events and preflights,
// and a local webhook receiver that fails 10 % of deliveries. Every minute it prints the
// gateway's RSS, V8 heap, event-loop lag p99, Redis used_memory, outbox depth and the
// accepted/refused counts; at the end a verdict:
//   no leak:      the peak RSS of the second half of the run (after warm-up) within
//                 max(10 %, 16 MB) of the first half's — peaks, because RSS is a saw-tooth
//                 that follows the garbage collector, polled every second — and Redis
//                 memory per accepted message in the second half no more than 1.25 × the
//                 first half (records are kept retentionDays: Redis grows with the data,
//                 never faster);
//   nothing lost: every 250 has its record (or its case), and every event written to the
//                 outbox was delivered or is in the dead letters.
// Exit 0 when both hold.
//
//   npm run soak -- [--minutes 10] [--rate 10]   (rate: SMTP messages a second)
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const root = new URL('..', import.meta.url).pathname;
const dist = new URL('../dist/', import.meta.url);
const o = { minutes: 10, rate: 10 };
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  if (a === '--minutes') o.minutes = Number(process.argv[++i]);
  else if (a === '--rate') o.rate = Number(process.argv[++i]);
  else throw new Error(`unknown argument ${a} (use --minutes N, --rate N)`);
}
if (!(o.minutes > 0 && o.rate > 0)) throw new Error('--minutes and --rate must be positive');

const { createTokenCodec, parseTokenSecrets } = await import(new URL('token/token.js', dist));
const { createRedis } = await import(new URL('store/redis.js', dist));
const { Keys } = await import(new URL('store/keys.js', dist));

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pick = (a) => a[Math.floor(Math.random() * a.length)];
const TOKEN_SECRET = 'a:' + randomBytes(24).toString('hex');
// The platform routes may require a bearer token (ABUSEGATE_PLATFORM_TOKEN); sent always.
const PLATFORM_TOKEN = randomBytes(24).toString('hex');
const codec = createTokenCodec(parseTokenSecrets(TOKEN_SECRET));
const ACCOUNTS = Array.from({ length: 20 }, (_, i) => `soak${i}`);
const CAMPAIGNS = ['spring', 'summer', 'autumn'];
// A bounded set of recipients: suppressions saturate, records keep coming.
const recipient = () => `r${Math.floor(Math.random() * 2000)}@example.org`;

// --- the webhook receiver: 10 % of deliveries fail with a 500 ---
const delivered = new Set();
let hookFailures = 0;
const receiver = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    if (Math.random() < 0.1) {
      hookFailures++;
      res.writeHead(500).end();
      return;
    }
    delivered.add(String(req.headers['webhook-id']));
    res.writeHead(204).end();
  });
});
await new Promise((r) => receiver.listen(0, '127.0.0.1', r));
const hookUrl = `http://127.0.0.1:${receiver.address().port}/hooks`;

// --- the gateway ---
const dir = mkdtempSync(join(tmpdir(), 'ag-soak-'));
const redisDir = join(dir, 'redis');
writeFileSync(
  join(dir, 'soak.yaml'),
  [
    'smtp: { host: 127.0.0.1, port: 0, connectionsPerMinute: 0, messagesPerMinute: 0 }',
    'http: { host: 127.0.0.1, port: 0 }',
    'policy: { host: 127.0.0.1, port: 0 }',
    `redis: { local: { dir: ${JSON.stringify(redisDir)} } }`,
    'form: { ratePerMinute: 0 }',
    `webhooks: { url: ${JSON.stringify(hookUrl)}, secret: whsec_${randomBytes(24).toString('base64')}, retrySchedule: [1, 2, 4], timeoutMs: 2000 }`,
    'trustedReporters: [127.0.0.0/8]',
    'log: { level: info }',
  ].join('\n'),
);
const gw = spawn('sh', [join(root, 'bin/gateway')], {
  env: { PATH: process.env.PATH, ABUSEGATE_CONFIG: join(dir, 'soak.yaml'), ABUSEGATE_TOKEN_SECRET: TOKEN_SECRET, ABUSEGATE_PLATFORM_TOKEN: PLATFORM_TOKEN, ABUSEGATE_ADMIN_TOKEN: randomBytes(24).toString('hex') },
  stdio: ['ignore', 'pipe', 'inherit'],
});
const gwLog = [];
const ports = await new Promise((resolve, reject) => {
  createInterface({ input: gw.stdout }).on('line', (line) => {
    try {
      const j = JSON.parse(line);
      if (j.code === 'STARTED') resolve(j);
      else if (j.level >= 40 && gwLog.length < 50) gwLog.push(line);
    } catch {
      // not JSON
    }
  });
  gw.once('exit', (code) => reject(new Error(`gateway exited ${code}`)));
});
const base = `http://127.0.0.1:${ports.http}`;
const auth = { authorization: `Bearer ${PLATFORM_TOKEN}` };
const cleanup = () => {
  gw.kill('SIGTERM');
  receiver.close();
};
process.on('SIGINT', () => {
  cleanup();
  process.exit(130);
});

// --- SMTP: a few persistent connections, each a small client that reads replies in order ---
class Smtp {
  static async open(port) {
    const s = connect({ port, host: '127.0.0.1' });
    await new Promise((res, rej) => s.once('connect', res).once('error', rej));
    const c = new Smtp(s);
    await c.read();
    await c.cmd('EHLO soak.test');
    return c;
  }
  constructor(s) {
    this.s = s;
    this.buf = '';
    this.waiters = [];
    s.setEncoding('latin1');
    s.on('data', (d) => {
      this.buf += d;
      let m;
      while ((m = /^(?:\d{3}-[^\n]*\n)*(\d{3})(?: ([^\n]*))?\r?\n/.exec(this.buf))) {
        this.buf = this.buf.slice(m[0].length);
        this.waiters.shift()?.({ code: Number(m[1]), text: m[2] ?? '' });
      }
    });
    s.on('close', () => this.waiters.splice(0).forEach((w) => w({ code: 0, text: 'closed' })));
    s.on('error', () => {});
  }
  read() {
    return new Promise((r) => this.waiters.push(r));
  }
  cmd(line) {
    this.s.write(line + '\r\n');
    return this.read();
  }
  async send(from, to, body) {
    for (const line of [`MAIL FROM:<${from}>`, `RCPT TO:<${to}>`]) {
      const r = await this.cmd(line);
      if (r.code >= 300) {
        await this.cmd('RSET');
        return r;
      }
    }
    const d = await this.cmd('DATA');
    if (d.code !== 354) return d;
    this.s.write(body.replace(/\r?\n/g, '\r\n').replace(/^\./gm, '..') + '\r\n.\r\n');
    return this.read();
  }
}

function complaint(account, campaign, rcpt) {
  const b = 'b' + randomBytes(6).toString('hex');
  return [
    'From: fbl@isp.example', 'To: fbl@localhost', 'Subject: complaint', `Message-ID: <${randomBytes(8).toString('hex')}@isp.example>`,
    'MIME-Version: 1.0', `Content-Type: multipart/report; report-type=feedback-report; boundary="${b}"`, '',
    `--${b}`, 'Content-Type: text/plain', '', 'An abuse report.', '',
    `--${b}`, 'Content-Type: message/feedback-report', '', 'Feedback-Type: abuse', 'User-Agent: SoakFBL/1.0', 'Version: 1', `Original-Rcpt-To: ${rcpt}`, '',
    `--${b}`, 'Content-Type: message/rfc822', '',
    'From: news@customer.example', `To: ${rcpt}`, 'Subject: news', `Message-ID: <${randomBytes(8).toString('hex')}@mta.example>`,
    `X-Abuse-Token: ${codec.mintLong({ account, campaign, recipient: rcpt })}`, '', 'Buy now!', '', `--${b}--`, '',
  ].join('\n');
}

function bounce(rcpt, hard) {
  const b = 'd' + randomBytes(6).toString('hex');
  return [
    'From: MAILER-DAEMON@mx.example', 'To: bounces@localhost', 'Subject: Undelivered Mail', `Message-ID: <${randomBytes(8).toString('hex')}@mx.example>`,
    'MIME-Version: 1.0', `Content-Type: multipart/report; report-type=delivery-status; boundary="${b}"`, '',
    `--${b}`, 'Content-Type: text/plain', '', 'Delivery failed.', '',
    `--${b}`, 'Content-Type: message/delivery-status', '', 'Reporting-MTA: dns; mx.example', '',
    `Final-Recipient: rfc822; ${rcpt}`, 'Action: failed', `Status: ${hard ? '5.1.1' : '4.2.2'}`,
    `Diagnostic-Code: smtp; ${hard ? '550 5.1.1 User unknown' : '452 4.2.2 Mailbox full'}`, '',
    `--${b}`, 'Content-Type: text/rfc822-headers', '', 'From: news@customer.example', `To: ${rcpt}`, `Message-ID: <${randomBytes(8).toString('hex')}@mta.example>`, '',
    `--${b}--`, '',
  ].join('\n');
}

function abuseMail() {
  return [
    'From: someone@isp.example', 'To: abuse@localhost', 'Subject: spam from your network', `Message-ID: <${randomBytes(8).toString('hex')}@isp.example>`, '',
    `I received this spam (ref ${randomBytes(4).toString('hex')}).`, '',
    'Received: from mta.example (mta.example [192.0.2.7]) by mx.isp.example', 'From: news@customer.example', 'Subject: win a prize', '',
  ].join('\n');
}

// --- the load ---
const stats = { smtpOk: 0, smtpRefused: 0, httpOk: 0, httpRefused: 0 };
const minute = { ...stats };
const acked = []; // { kind: 'report' | 'case', id }
let running = true;

async function smtpWorker(w, workers) {
  let c = await Smtp.open(ports.smtp);
  const interval = (1000 * workers) / o.rate;
  let next = Date.now() + Math.random() * interval;
  while (running) {
    await sleep(Math.max(0, next - Date.now()));
    next += interval;
    const account = pick(ACCOUNTS);
    const campaign = pick(CAMPAIGNS);
    const roll = Math.random();
    const [to, body] =
      roll < 0.45 ? ['fbl@localhost', complaint(account, campaign, recipient())]
        : roll < 0.85 ? [`bounces+${codec.mintShort({ account, campaign })}@localhost`, bounce(recipient(), Math.random() < 0.5)]
          : ['abuse@localhost', abuseMail()];
    const r = await c.send('sender@isp.example', to, body);
    if (r.code === 250) {
      stats.smtpOk++;
      minute.smtpOk++;
      const id = /<([0-9a-z_]+)>/.exec(r.text)?.[1];
      if (id) acked.push(id);
    } else {
      stats.smtpRefused++;
      minute.smtpRefused++;
      if (r.code === 0) c = await Smtp.open(ports.smtp);
    }
  }
  await c.cmd('QUIT').catch(() => {});
}

async function http(method, path, body, headers = {}) {
  try {
    const res = await fetch(base + path, {
      method,
      headers: { ...headers, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    await res.arrayBuffer();
    const ok = res.status < 400 || res.status === 404; // 404: not suppressed
    stats[ok ? 'httpOk' : 'httpRefused']++;
    minute[ok ? 'httpOk' : 'httpRefused']++;
    return res.status;
  } catch {
    stats.httpRefused++;
    minute.httpRefused++;
    return 0;
  }
}

async function httpLoop() {
  // Each second: send counts, a few lookups; now and then a preflight and a form report.
  while (running) {
    const t0 = Date.now();
    const account = pick(ACCOUNTS);
    const jobs = [
      http('POST', '/v1/events', { events: [{ type: 'sent', account, campaign: pick(CAMPAIGNS), count: 200 }] }, auth),
      http('GET', `/v1/suppressions/${account}/${encodeURIComponent(recipient())}?channel=email`, null, auth),
      http('POST', '/v1/suppressions/check', { account, addresses: Array.from({ length: 20 }, recipient) }, auth),
    ];
    if (Math.random() < 0.2) jobs.push(http('POST', '/v1/campaigns/preflight', { account, campaign: pick(CAMPAIGNS), recipients: Array.from({ length: 200 }, recipient) }, auth));
    if (Math.random() < 0.1) {
      jobs.push(
        http('POST', '/v1/abuse-reports', {
          type: 'email',
          headers: `Received: from mta.example (mta.example [192.0.2.7]) by mx.isp.example\nFrom: news@customer.example\nMessage-ID: <${randomBytes(6).toString('hex')}@mta.example>\nSubject: spam`,
          description: 'Unwanted mail',
        }),
      );
    }
    await Promise.all(jobs);
    await sleep(Math.max(0, 1000 - (Date.now() - t0)));
  }
}

// --- measurements ---
const redis = createRedis({ url: join(redisDir, 'redis.sock'), commandTimeout: 5000 });
await redis.connect();
const keys = new Keys('ag', 64);

async function metrics() {
  const text = await (await fetch(`${base}/metrics`, { headers: auth })).text();
  const get = (name) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, 'm').exec(text)?.[1] ?? NaN);
  return { heap: get('abusegate_nodejs_heap_size_used_bytes'), lagP99: get('abusegate_nodejs_eventloop_lag_p99_seconds'), outbox: get('abusegate_outbox_depth') };
}
const rssOf = (pid) => Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
const usedMemory = async () => Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1] ?? 0);
const MB = (b) => (b / 1048576).toFixed(1);

const rows = [];
// RSS follows the collector up and down: keep each minute's peak, polled every second.
let rssPeak = 0;
const rssPoll = setInterval(() => (rssPeak = Math.max(rssPeak, rssOf(gw.pid))), 1000);
const header = '| minute | RSS MB | peak RSS MB | heap MB | loop lag p99 ms | Redis used_memory MB | outbox depth | SMTP 250 | SMTP refused | HTTP ok | HTTP refused |';
console.log(`soak: ${o.minutes} min, ${o.rate} SMTP messages/s and ~4 HTTP requests/s, on 127.0.0.1 (gateway pid ${gw.pid})\n`);
console.log(header);
console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');

const workers = Math.min(4, Math.max(1, Math.ceil(o.rate / 5)));
const load = [...Array.from({ length: workers }, (_, w) => smtpWorker(w, workers)), httpLoop()];
const start = Date.now();
for (let m = 1; m <= o.minutes; m++) {
  await sleep(Math.max(0, start + m * 60_000 - Date.now()));
  const [x, used] = await Promise.all([metrics(), usedMemory()]);
  const rss = rssOf(gw.pid);
  const row = { minute: m, rss, peak: Math.max(rssPeak, rss), heap: x.heap, lagP99: x.lagP99, used, outbox: x.outbox, ...minute, accepted: stats.smtpOk };
  rows.push(row);
  rssPeak = 0;
  console.log(`| ${m} | ${MB(row.rss)} | ${MB(row.peak)} | ${MB(row.heap)} | ${(row.lagP99 * 1000).toFixed(1)} | ${MB(row.used)} | ${row.outbox} | ${row.smtpOk} | ${row.smtpRefused} | ${row.httpOk} | ${row.httpRefused} |`);
  Object.assign(minute, { smtpOk: 0, smtpRefused: 0, httpOk: 0, httpRefused: 0 });
}
running = false;
clearInterval(rssPoll);
await Promise.all(load);

// --- verdict ---
const verdict = [];
let pass = true;
const say = (ok, text) => {
  pass &&= ok;
  verdict.push(`${ok ? 'PASS' : 'FAIL'} ${text}`);
};

// No leak: after warm-up (the first 20 % of the run, at least a minute).
const warm = Math.max(1, Math.round(o.minutes * 0.2));
if (rows.length >= warm + 2) {
  const after = rows[warm - 1];
  const end = rows.at(-1);
  const mid = rows[warm - 1 + Math.floor((rows.length - warm) / 2)];
  const peak = (from, to) => Math.max(...rows.filter((r) => r.minute > from.minute && r.minute <= to.minute).map((r) => r.peak));
  const [p1, p2] = [peak(after, mid), peak(mid, end)];
  const bound = Math.max(p1 * 0.1, 16 * 1048576);
  say(p2 - p1 <= bound, `RSS flat: peak ${MB(p1)} MB in minutes ${after.minute + 1}–${mid.minute}, ${MB(p2)} MB in minutes ${mid.minute + 1}–${end.minute} (bound +${MB(bound)} MB)`);
  const perMsg = (a, b) => (b.used - a.used) / Math.max(1, b.accepted - a.accepted);
  const first = perMsg(after, mid);
  const second = perMsg(mid, end);
  say(second <= first * 1.25 + 64, `Redis memory grows with the data only: ${first.toFixed(0)} bytes per accepted message (minutes ${after.minute}–${mid.minute}), ${second.toFixed(0)} (minutes ${mid.minute}–${end.minute}); bound 1.25 ×`);
} else verdict.push(`SKIP leak check: needs at least ${warm + 2} minutes`);

// Nothing lost: every 250 has its record (abuse@ replies name the case).
let missing = 0;
for (let i = 0; i < acked.length; i += 500) {
  const batch = acked.slice(i, i + 500);
  const found = await Promise.all(batch.map((id) => redis.exists(id.startsWith('case_') ? keys.cases.record(id) : keys.report(id))));
  missing += found.filter((n) => n === 0).length;
}
say(missing === 0 && acked.length === stats.smtpOk, `every 250 has its record: ${acked.length - missing} of ${stats.smtpOk}`);

// Every event written to an outbox delivered or dead-lettered (retries take seconds here).
const added = async () => {
  let n = 0;
  for (const s of keys.outboxes()) {
    const info = await redis.call('XINFO', 'STREAM', s).catch(() => null);
    if (Array.isArray(info)) n += Number(info[info.indexOf('entries-added') + 1]);
    else if (info instanceof Map) n += Number(info.get('entries-added'));
  }
  return n;
};
const deadIds = async () => new Set((await Promise.all(keys.deadLetterStreams().map((k) => redis.xrange(k, '-', '+')))).flat().map(([, f]) => JSON.parse(f[f.indexOf('event') + 1]).id));
const settleUntil = Date.now() + 120_000;
let written = await added();
let dead = await deadIds();
while ([...new Set([...delivered, ...dead])].length < written && Date.now() < settleUntil) {
  await sleep(1000);
  written = await added();
  dead = await deadIds();
}
const accounted = new Set([...delivered, ...dead]).size;
say(accounted === written, `every event delivered or dead-lettered: ${written} written, ${delivered.size} delivered, ${dead.size} dead letters (${hookFailures} deliveries refused by the receiver)`);

console.log(`\nSMTP: ${stats.smtpOk} accepted, ${stats.smtpRefused} refused; HTTP: ${stats.httpOk} ok, ${stats.httpRefused} refused`);
console.log(verdict.join('\n'));
if (gwLog.length) console.log(`\ngateway warnings (first ${gwLog.length}):\n${gwLog.join('\n')}`);
console.log(`\nverdict: ${pass ? 'PASS' : 'FAIL'}`);
redis.disconnect();
cleanup();
await new Promise((r) => gw.once('exit', r));
rmSync(dir, { recursive: true, force: true });
process.exit(pass ? 0 : 1);
