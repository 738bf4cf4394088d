#!/usr/bin/env node
// Peak memory of the gateway while 50 connections each send a 10 MB message at once: the
// gateway (bin/gateway, as npm start and the image run it) as a child with its own
// redis-server in a temp dir; its RSS is read from /proc/<pid>/status (VmRSS polled every
// 20 ms, and VmHWM, the kernel's own high-water mark, at the end). Each message is a
// feedback report whose attached original carries a ~7.5 MB base64 attachment, ~10,000,000
// bytes on the wire (maxSize is 10 MiB).
// Baseline: bench-smtp's bare smtp-server (same options, DATA drained) under the same load.
// Goal (issue 19): peak ≤ the bare smtp-server's peak + 100 MB, in the same run.
//
//   node scripts/bench-rss.mjs [--connections 50] [--mb 10] [--json]
//   BENCH_GATEWAY_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' (or --trace-gc, --max-semi-space-size=8 …; later options win)
//   passes node options to the gateway child (after bin/gateway's own), for profiling it under this load.
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

const root = new URL('..', import.meta.url).pathname;
const o = { connections: 50, mb: 10, json: false };
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  if (a === '--json') o.json = true;
  else if (a === '--connections') o.connections = Number(process.argv[++i]);
  else if (a === '--mb') o.mb = Number(process.argv[++i]);
  else throw new Error(`unknown argument ${a}`);
}

const status = (pid) => {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(s)?.[1] ?? 0);
    return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
  } catch {
    return { rss: 0, hwm: 0 };
  }
};

/** The shared 10 MB tail of every message (CRLF, nothing to dot-stuff: base64 lines). */
function bigTail(totalBytes) {
  const head = [
    '--b1', 'Content-Type: text/plain', '', 'This is an email abuse report.', '',
    '--b1', 'Content-Type: message/feedback-report', '', 'Feedback-Type: abuse', 'User-Agent: ExampleFBL/1.0', 'Version: 1', 'Original-Rcpt-To: big@example.org', '',
    '--b1', 'Content-Type: message/rfc822', '',
    'From: news@customer.example', 'To: big@example.org', 'Subject: brochure', 'Message-ID: <big@mta.example>', 'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="b2"', '', '--b2', 'Content-Type: text/plain', '', 'See the attached brochure.', '',
    '--b2', 'Content-Type: application/pdf; name="brochure.pdf"', 'Content-Transfer-Encoding: base64', '', '',
  ].join('\r\n');
  const end = '\r\n--b2--\r\n\r\n--b1--\r\n.\r\n';
  const line = Buffer.from('JVBERi0xLjQKJcfsj6IKNSAwIG9iago8PC9MZW5ndGggNiAwIFIvRmlsdGVyIC9GbGF0ZURlY29kZT4+\r\n');
  const lines = Math.floor((totalBytes - head.length - end.length - 400) / line.length);
  return Buffer.concat([Buffer.from(head), Buffer.alloc(lines * line.length).fill(line), Buffer.from(end)]);
}

const dir = mkdtempSync(join(tmpdir(), 'ag-bench-rss-'));
const cfg = join(dir, 'bench.yaml');
writeFileSync(cfg, ['smtp:', '  host: 127.0.0.1', '  connectionsPerMinute: 1000000000', '  messagesPerMinute: 1000000000', '  connectionsPerIp: 0', 'http:', '  host: 127.0.0.1', 'policy:', '  port: 0', 'redis:', `  local: { dir: ${JSON.stringify(join(dir, 'redis'))}, appendfsync: everysec }`].join('\n'));
const tail = bigTail(o.mb * 1_000_000);

/** Starts a server, waits for its port, and returns its peak RSS while the load runs. */
async function measure(name, start) {
  const { proc, port: portOf } = start();
  try {
    let port = 0;
    const until = Date.now() + 30_000;
    while (!port) {
      if (proc.exitCode !== null) throw new Error(`${name} exited`);
      if (Date.now() > until) throw new Error(`${name} did not start`);
      port = portOf();
      if (!port) await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 500));
    const idle = status(proc.pid);
    let peak = idle.rss;
    const poll = setInterval(() => (peak = Math.max(peak, status(proc.pid).rss)), 20);
    const t0 = performance.now();
    const replies = await Promise.all(Array.from({ length: o.connections }, (_, i) => one(port, i)));
    const seconds = (performance.now() - t0) / 1000;
    clearInterval(poll);
    const end = status(proc.pid);
    peak = Math.max(peak, end.rss);
    const codes = replies.reduce((m, c) => ((m[c] = (m[c] ?? 0) + 1), m), {});
    return { idleMb: Math.round(idle.rss), peakPolledMb: Math.round(peak), vmHwmMb: Math.round(end.hwm), peakMb: Math.round(Math.max(peak, end.hwm)), seconds: Number(seconds.toFixed(2)), replies: codes };
  } finally {
    proc.kill('SIGTERM');
    await new Promise((r) => (proc.exitCode !== null ? r() : proc.once('exit', r)));
  }
}

function one(port, i) {
  return new Promise((resolve) => {
    const sock = connect({ port, host: '127.0.0.1' });
    let buf = '';
    const steps = [
      () => sock.write('EHLO bench.example\r\n'),
      () => sock.write('MAIL FROM:<fbl@isp.example>\r\n'),
      () => sock.write('RCPT TO:<fbl@localhost>\r\n'),
      () => sock.write('DATA\r\n'),
      () => {
        sock.write(`From: fbl@isp.example\r\nTo: fbl@localhost\r\nSubject: report ${i}\r\nMessage-ID: <big${i}@isp.example>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=feedback-report; boundary="b1"\r\n\r\n`);
        sock.write(tail);
      },
      null,
    ];
    let step = 0;
    sock.setEncoding('latin1');
    sock.on('data', (d) => {
      buf += d;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line[3] === '-') continue;
        const fn = steps[step++];
        if (fn) fn();
        else {
          sock.end('QUIT\r\n');
          return resolve(line.slice(0, 3));
        }
      }
    });
    sock.on('error', (e) => resolve(`error ${e.message}`));
    // A server that hangs up (a 421) must not leave the bench waiting for ever.
    sock.on('close', () => resolve(`closed after ${JSON.stringify(buf.slice(0, 40))}`));
  });
}

let result;
try {
  const gateway = await measure('gateway', () => {
    const logPath = join(dir, 'gateway.log');
    const fd = openSync(logPath, 'w');
    const proc = spawn('sh', [join(root, 'bin/gateway'), ...(process.env.BENCH_GATEWAY_NODE_ARGS ?? '').split(' ').filter(Boolean)], {
      cwd: dir,
      env: { PATH: process.env.PATH, ABUSEGATE_CONFIG: cfg, ABUSEGATE_SMTP_PORT: '0', ABUSEGATE_HTTP_PORT: '0', ABUSEGATE_POLICY_PORT: '0', ABUSEGATE_TOKEN_SECRET: 'a:bench-secret-0123456789abcdef-0123456789', ABUSEGATE_TRUSTED_REPORTERS: '127.0.0.0/8' },
      stdio: ['ignore', fd, fd],
    });
    closeSync(fd);
    return { proc, port: () => JSON.parse(readFileSync(logPath, 'utf8').split('\n').find((l) => l.includes('"STARTED"')) ?? '{"smtp":0}').smtp };
  });
  // The stack's floor: bench-smtp's bare smtp-server (same options, DATA drained).
  const bare = await measure('bare smtp-server', () => {
    const proc = spawn(process.execPath, [join(root, 'scripts/bench-smtp.mjs'), '--bare-server'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let port = 0;
    proc.stdout.once('data', (d) => (port = JSON.parse(String(d)).port));
    return { proc, port: () => port };
  });
  result = {
    bench: 'rss',
    connections: o.connections,
    messageBytes: tail.length,
    ...gateway,
    bare,
    rows: [
      {
        section: 'Memory',
        figure: `peak RSS, ${o.connections} connections × ${(tail.length / 1e6).toFixed(1)} MB at once (idle ${gateway.idleMb} MB; replies ${JSON.stringify(gateway.replies)}; ${gateway.seconds} s) vs a bare smtp-server (idle ${bare.idleMb} MB)`,
        value: gateway.peakMb,
        unit: 'MB',
        baseline: bare.peakMb,
        ratio: Number((gateway.peakMb / bare.peakMb).toFixed(2)),
        goal: '≤ bare + 100 MB',
        met: gateway.peakMb <= bare.peakMb + 100,
      },
    ],
  };
} finally {
  if (process.env.KEEP_LOG) console.error(readFileSync(join(dir, 'gateway.log'), 'utf8').split('\n').filter((l) => !l.startsWith('{')).slice(-40).join('\n'));
  rmSync(dir, { recursive: true, force: true });
}
if (o.json) console.log(JSON.stringify(result));
else console.log(`peak RSS ${result.peakMb} MB (polled ${result.peakPolledMb}, VmHWM ${result.vmHwmMb}, idle ${result.idleMb}) for ${o.connections} × ${result.messageBytes} bytes in ${result.seconds} s; replies ${JSON.stringify(result.replies)}; bare smtp-server ${result.bare.peakMb} MB (idle ${result.bare.idleMb}); goal ≤ bare + 100 MB: ${result.rows[0].met ? 'met' : 'NOT met'}`);
process.exit(0);
