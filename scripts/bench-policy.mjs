#!/usr/bin/env node
// Policy delegation throughput: the policy server (dist/, build with `npx tsc -p .`) with
// one HGET per request against a private redis-server, driven over loopback by persistent
// connections that pipeline requests (the load generator runs in a worker thread, so it has
// its own event loop); then a raw ioredis baseline doing the same HGETs at the same
// concurrency. Prints requests/s, p50/p99 and the ratio; `--json` prints one JSON object.
//
//   node scripts/bench-policy.mjs [--seconds 5] [--requests 500000] [--connections 8]
//     [--pipeline 32] [--suppressions 100000] [--accounts 10] [--json]
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fork } from 'node:child_process';

const dist = new URL('../dist/', import.meta.url);

function args(argv) {
  const o = { seconds: 5, requests: 500_000, connections: 8, pipeline: 32, suppressions: 100_000, accounts: 10, json: false, warmup: 1, baseline: 1, autopipeline: 1 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--json') o.json = true;
    else if (a.startsWith('--') && a.slice(2) in o) o[a.slice(2)] = Number(argv[++i]);
    else throw new Error(`unknown argument ${a}`);
  }
  return o;
}

/** CPU time (user + system) this process spent per request since `start`, microseconds. */
function cpuPer(start, count) {
  const d = process.cpuUsage(start);
  return count ? Number(((d.user + d.system) / count).toFixed(1)) : 0;
}

function percentile(sorted, p) {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function summary(count, seconds, latencies) {
  const sorted = Float64Array.from(latencies).sort();
  return {
    requests: count,
    seconds: Number(seconds.toFixed(3)),
    perSecond: Math.round(count / seconds),
    p50ms: Number(percentile(sorted, 50).toFixed(3)),
    p99ms: Number(percentile(sorted, 99).toFixed(3)),
  };
}

/** The same request Postfix 3.7 sends at RCPT TO, about 700 bytes. */
function request(sender, recipient, i) {
  return (
    'request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\nhelo_name=mta1.platform.example\n' +
    `queue_id=\nsender=${sender}\nrecipient=${recipient}\nrecipient_count=0\nclient_address=10.0.0.${i % 250}\n` +
    'client_name=mta1.platform.example\nreverse_client_name=mta1.platform.example\ninstance=1a2b.5f3c1d2e.1\n' +
    'sasl_method=\nsasl_username=\nsasl_sender=\nsize=12345\nccert_subject=\nccert_issuer=\nccert_fingerprint=\n' +
    'ccert_pubkey_fingerprint=\nencryption_protocol=TLSv1.3\nencryption_cipher=TLS_AES_256_GCM_SHA384\n' +
    'encryption_keysize=256\netrn_domain=\nstress=\nclient_port=40000\npolicy_context=\nserver_address=10.0.0.1\n' +
    'server_port=25\ncompatibility_level=3.6\nmail_version=3.7.11\n\n'
  );
}

// ---- load generator (worker thread) ----
async function drive({ port, requests: wires, connections, pipeline, seconds, maxRequests }) {
  const deadline = performance.now() + seconds * 1000;
  let sent = 0;
  let done = 0;
  let rejects = 0;
  const latencies = [];
  const started = performance.now();
  await Promise.all(
    Array.from({ length: connections }, (_, ci) => new Promise((resolve, reject) => {
      const sock = connect({ port, host: '127.0.0.1', noDelay: true });
      const stamps = [];
      let next = ci * 997;
      let buf = '';
      let open = 0;
      const send = (n) => {
        let out = '';
        for (let i = 0; i < n && sent < maxRequests && performance.now() < deadline; i++) {
          out += wires[next++ % wires.length];
          stamps.push(performance.now());
          sent++;
          open++;
        }
        if (out) sock.write(out);
        else if (open === 0) sock.end();
      };
      sock.setEncoding('latin1');
      sock.on('connect', () => send(pipeline));
      sock.on('data', (d) => {
        buf += d;
        let n = 0;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          if (buf.startsWith('action=REJECT')) rejects++;
          else if (!buf.startsWith('action=DUNNO')) reject(new Error(`unexpected reply ${buf.slice(0, i)}`));
          buf = buf.slice(i + 2);
          const now = performance.now();
          latencies.push(now - stamps.shift());
          n++;
        }
        done += n;
        open -= n;
        send(n);
      });
      sock.on('close', resolve);
      sock.on('error', reject);
    })),
  );
  return { done, rejects, elapsed: (performance.now() - started) / 1000, latencies };
}

if (process.argv[2] === '--drive') {
  // Takes the requests first and reports ready, so that shipping them is not measured.
  process.once('message', (data) => {
    process.once('message', () =>
      drive(data).then(
        (r) => process.send({ ...summary(r.done, r.elapsed, r.latencies), rejects: r.rejects }, () => process.exit(0)),
        (err) => process.send({ error: String(err?.stack ?? err) }, () => process.exit(1)),
      ),
    );
    process.send({ ready: true });
  });
} else {
  await main();
}

/** The load generator runs in its own process, so the server's CPU time can be measured alone. */
async function runDriver(data, onStart = () => {}) {
  const child = fork(new URL(import.meta.url), ['--drive'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const next = () =>
    new Promise((resolve, reject) => {
      child.once('message', (m) => (m.error ? reject(new Error(m.error)) : resolve(m)));
      child.once('error', reject);
    });
  const ready = next();
  child.send(data);
  await ready;
  const done = next();
  onStart();
  child.send('go');
  return done;
}

async function main() {
  const o = args(process.argv.slice(2));
  const [{ createPolicyServer }, { createLogger }, { createTokenCodec }, { startLocalRedis }, { Redis }] = await Promise.all([
    import(new URL('policy/server.js', dist)),
    import(new URL('log.js', dist)),
    import(new URL('token/token.js', dist)),
    import(new URL('store/local.js', dist)),
    import('ioredis'),
  ]);
  const dir = mkdtempSync(join(tmpdir(), 'ag-bench-policy-'));
  const local = await startLocalRedis({ dir, appendfsync: 'no' });
  const redisOpts = { path: local.url.replace(/^unix:\/\//, ''), lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, commandTimeout: 1000, enableAutoPipelining: o.autopipeline === 1 };
  const redis = new Redis(redisOpts);
  await redis.connect();

  // N suppressions spread over the accounts, one hash per account; a tenth of the
  // requests name a suppressed recipient, the rest recipients that are not on the list.
  const accounts = Array.from({ length: o.accounts }, (_, i) => `acct${i}`);
  const key = (account) => `bench:{${account}}:sup:email`;
  const perAccount = Math.ceil(o.suppressions / o.accounts);
  const at = new Date().toISOString();
  for (const account of accounts) {
    for (let off = 0; off < perAccount; off += 5000) {
      const fields = [];
      for (let j = off; j < Math.min(perAccount, off + 5000); j++) {
        fields.push(`user${j}@example.com`, JSON.stringify({ reason: j % 3 ? 'userunknown' : 'complaint', source: 'bounce', at }));
      }
      await redis.hset(key(account), ...fields);
    }
  }
  const codec = createTokenCodec({ current: 'a', keys: { a: 'bench-secret-0123456789abcdef-0123456789' } });
  const senders = accounts.map((account) => `bounces+${codec.mintShort({ account, campaign: 'spring-sale' })}@bounce.platform.example`);
  const pairs = [];
  for (let i = 0; i < 10_000; i++) {
    const a = i % o.accounts;
    const address = i % 10 === 0 ? `user${(i * 7919) % perAccount}@example.com` : `other${i}@example.net`;
    pairs.push({ account: accounts[a], sender: senders[a], address });
  }
  const wires = pairs.map((p, i) => request(p.sender, p.address, i));

  const server = createPolicyServer(
    { port: 0, host: '127.0.0.1', accountFrom: 'verp', verpPrefix: 'bounces', idleTimeoutMs: 60_000, maxRequestBytes: 65536 },
    {
      log: createLogger('warn'),
      accountFromToken: (token) => {
        const c = codec.verify(token);
        return c && c.form === 'short' ? c.account : null;
      },
      lookup: async (account, address) => {
        const v = await redis.hget(key(account), address);
        return v === null ? null : { reason: JSON.parse(v).reason };
      },
    },
  );
  const port = await server.listen();

  const load = { port, requests: wires, connections: o.connections, pipeline: o.pipeline };
  if (o.warmup > 0) await runDriver({ ...load, seconds: o.warmup, maxRequests: 50_000 });
  let cpu0;
  const r = await runDriver({ ...load, seconds: o.seconds, maxRequests: o.requests }, () => (cpu0 = process.cpuUsage()));
  const policy = { ...r, cpuMicrosPerRequest: cpuPer(cpu0, r.requests) };
  await server.stop(1000);

  // Baseline: the same HGETs, the same number outstanding, straight from ioredis.
  const inFlight = o.connections * o.pipeline;
  const baseLatencies = [];
  let issued = 0;
  let completed = 0;
  let baseRejects = 0;
  const cpu1 = process.cpuUsage();
  const t0 = performance.now();
  const deadline = t0 + o.seconds * 1000;
  await Promise.all(
    Array.from({ length: inFlight }, async (_, k) => {
      let i = k * 131;
      while (o.baseline && issued < o.requests && performance.now() < deadline) {
        issued++;
        const p = pairs[i++ % pairs.length];
        const s = performance.now();
        const v = await redis.hget(key(p.account), p.address);
        if (v !== null && JSON.parse(v).reason) baseRejects++;
        baseLatencies.push(performance.now() - s);
        completed++;
      }
    }),
  );
  const baseline = { ...summary(completed, (performance.now() - t0) / 1000, baseLatencies), rejects: baseRejects, cpuMicrosPerRequest: cpuPer(cpu1, completed) };

  redis.disconnect();
  await local.stop();
  rmSync(dir, { recursive: true, force: true });

  const result = {
    bench: 'policy',
    connections: o.connections,
    pipeline: o.pipeline,
    suppressions: perAccount * o.accounts,
    accounts: o.accounts,
    policy,
    baseline,
    redisAutoPipelining: o.autopipeline === 1,
    ratio: Number((policy.perSecond / baseline.perSecond).toFixed(3)),
    cpuRatio: Number((baseline.cpuMicrosPerRequest / policy.cpuMicrosPerRequest).toFixed(3)),
    target: 10_000,
    meetsTarget: policy.perSecond >= 10_000,
  };
  if (o.json) {
    console.log(JSON.stringify(result));
  } else {
    console.log(`policy delegation: ${o.connections} connections × ${o.pipeline} pipelined, ${result.suppressions} suppressions over ${o.accounts} accounts`);
    console.log(`  policy server   ${policy.perSecond.toLocaleString('en')} req/s  p50 ${policy.p50ms} ms  p99 ${policy.p99ms} ms  ${policy.cpuMicrosPerRequest} µs CPU/req  (${policy.requests} requests, ${policy.rejects} rejects)`);
    console.log(`  raw ioredis     ${baseline.perSecond.toLocaleString('en')} HGET/s p50 ${baseline.p50ms} ms  p99 ${baseline.p99ms} ms  ${baseline.cpuMicrosPerRequest} µs CPU/HGET`);
    console.log(`  ratio ${result.ratio} (throughput), ${result.cpuRatio} (CPU per request)  target ≥ 10,000 req/s: ${result.meetsTarget ? 'met' : 'NOT met'}`);
  }
  process.exit(0);
}
