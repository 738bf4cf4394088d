/**
 * A real 6-node Redis Cluster (3 masters, 3 replicas) on loopback ports, in a temporary
 * folder, for the cluster tests: started with `redis-cli --cluster create`, stopped in
 * teardown. Each node is a child process of the test, so a test can SIGKILL a master.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SmtpClient, type Reply } from '../helpers/smtp.js';

export interface ClusterNode {
  port: number;
  proc: ChildProcess;
  dir: string;
  exited: Promise<void>;
}

export interface TestCluster {
  nodes: ClusterNode[];
  /** "127.0.0.1:port,…" for ABUSEGATE_REDIS_CLUSTER. */
  seeds: string;
  dir: string;
  /** Runs redis-cli against one node and returns its stdout. */
  cli(port: number, ...args: string[]): string;
  /** The slot a key (or hash tag) falls in. */
  keyslot(key: string): number;
  /** Port of the master that serves a slot now, as the live nodes see it. */
  masterOf(slot: number): number;
  /** Waits until a master other than `from` serves the slot, and the cluster is ok. */
  failedOver(slot: number, from: number, timeoutMs?: number): Promise<void>;
  /** Port of a live replica of the master on `port`. */
  replicaOf(port: number): number;
  /** Starts a killed node again on its port and folder: it rejoins as a replica, in sync. */
  restart(node: ClusterNode): Promise<void>;
  /** Waits until every live node reports cluster_state:ok and agrees on the slot's master. */
  waitOk(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((done) => {
    const s = createServer();
    s.once('error', () => done(false));
    s.listen(port, '127.0.0.1', () => s.close(() => done(true)));
  });
}

/** Six ports P whose cluster bus port P + 10000 is free too. */
async function freePorts(n: number): Promise<number[]> {
  const out: number[] = [];
  let p = 20000 + Math.floor(Math.random() * 20000);
  while (out.length < n) {
    p++;
    if (p > 55000) p = 20000;
    if ((await portFree(p)) && (await portFree(p + 10000))) out.push(p);
  }
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * `nodeTimeoutMs` is cluster-node-timeout: how long a master may be silent before its
 * replica takes over. Short here so that a failover test takes seconds, not a minute.
 */
export async function startCluster(t: { teardown(fn: () => unknown): void }, opts: { nodeTimeoutMs?: number } = {}): Promise<TestCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'ag-cluster-'));
  const ports = await freePorts(6);
  const launch = (port: number): ClusterNode => {
    const ndir = join(dir, String(port));
    mkdirSync(ndir, { recursive: true });
    const proc = spawn(
      'redis-server',
      [
        '--port', String(port),
        '--bind', '127.0.0.1',
        '--cluster-enabled', 'yes',
        '--cluster-config-file', join(ndir, 'nodes.conf'),
        '--cluster-node-timeout', String(opts.nodeTimeoutMs ?? 2000),
        '--dir', ndir,
        // Persistent, as the gateway requires (it refuses a Redis that forgets on restart);
        // no fsync, which a test does not need.
        '--save', '',
        '--appendonly', 'yes',
        '--appendfsync', 'no',
        '--logfile', join(ndir, 'redis.log'),
      ],
      { stdio: 'ignore' },
    );
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    return { port, proc, dir: ndir, exited };
  };
  const nodes: ClusterNode[] = ports.map(launch);

  const cli = (port: number, ...args: string[]): string => {
    const r = spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { encoding: 'utf8', timeout: 30_000 });
    if (r.status !== 0) throw new Error(`redis-cli -p ${port} ${args.join(' ')}: ${r.stderr || r.stdout}`);
    return r.stdout;
  };
  const live = () => nodes.filter((n) => n.proc.exitCode === null && n.proc.signalCode === null);

  const stop = async () => {
    for (const n of nodes) if (n.proc.exitCode === null && n.proc.signalCode === null) n.proc.kill('SIGKILL');
    await Promise.all(nodes.map((n) => n.exited));
    rmSync(dir, { recursive: true, force: true });
  };
  t.teardown(stop);

  // Every node answers PING before the cluster is formed.
  const deadline = Date.now() + 10_000;
  for (const n of nodes) {
    for (;;) {
      try {
        if (cli(n.port, 'PING').trim() === 'PONG') break;
      } catch {
        // not up yet
      }
      if (Date.now() > deadline) throw new Error(`redis node ${n.port} did not start: ${readLog(n)}`);
      await sleep(50);
    }
  }
  const create = spawnSync(
    'redis-cli',
    ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '1', '--cluster-yes'],
    { encoding: 'utf8', timeout: 60_000 },
  );
  if (create.status !== 0) throw new Error(`redis-cli --cluster create failed: ${create.stdout}\n${create.stderr}`);

  const keyslot = (key: string) => Number(cli(live()[0].port, 'CLUSTER', 'KEYSLOT', key).trim());

  const masterOf = (slot: number): number => {
    const n = live()[0];
    for (const line of cli(n.port, 'CLUSTER', 'NODES').split('\n')) {
      const f = line.trim().split(' ');
      if (f.length < 9 || !f[2].includes('master') || f[2].includes('fail')) continue;
      for (const range of f.slice(8)) {
        if (range.startsWith('[')) continue;
        const [a, b] = range.split('-').map(Number);
        if (slot >= a && slot <= (b ?? a)) return Number(f[1].split(':')[1].split('@')[0]);
      }
    }
    throw new Error(`no master serves slot ${slot}`);
  };

  const waitOk = async (timeoutMs = 30_000) => {
    const until = Date.now() + timeoutMs;
    for (;;) {
      let ok = true;
      for (const n of live()) {
        try {
          if (!/cluster_state:ok/.test(cli(n.port, 'CLUSTER', 'INFO'))) ok = false;
        } catch {
          ok = false;
        }
      }
      // Every slot has a live master.
      if (ok) {
        try {
          const slots = cli(live()[0].port, 'CLUSTER', 'INFO');
          ok = /cluster_slots_ok:16384/.test(slots);
        } catch {
          ok = false;
        }
      }
      if (ok) return;
      if (Date.now() > until) throw new Error(`cluster not ok after ${timeoutMs} ms:\n${cli(live()[0].port, 'CLUSTER', 'NODES')}`);
      await sleep(100);
    }
  };
  const failedOver = async (slot: number, from: number, timeoutMs = 30_000) => {
    const until = Date.now() + timeoutMs;
    for (;;) {
      let now: number | null = null;
      try {
        now = masterOf(slot);
      } catch {
        // no live master for it yet
      }
      if (now !== null && now !== from) return waitOk(Math.max(1000, until - Date.now()));
      if (Date.now() > until) throw new Error(`slot ${slot} still on ${from} after ${timeoutMs} ms`);
      await sleep(100);
    }
  };

  const nodeId = (port: number) => cli(port, 'CLUSTER', 'MYID').trim();

  const replicaOf = (port: number): number => {
    const id = nodeId(port);
    for (const line of cli(live()[0].port, 'CLUSTER', 'NODES').split('\n')) {
      const f = line.trim().split(' ');
      if (f.length >= 8 && f[2].includes('slave') && !f[2].includes('fail') && f[3] === id) return Number(f[1].split(':')[1].split('@')[0]);
    }
    throw new Error(`no live replica of ${port}`);
  };

  const restart = async (node: ClusterNode) => {
    await node.exited;
    Object.assign(node, launch(node.port));
    const until = Date.now() + 30_000;
    // Back in the cluster as a replica of whoever took its slots, and in sync with it.
    for (;;) {
      let info = '';
      try {
        info = cli(node.port, 'INFO', 'replication');
      } catch {
        // not up yet
      }
      if (/role:slave/.test(info) && /master_link_status:up/.test(info)) return;
      if (Date.now() > until) throw new Error(`node ${node.port} did not rejoin as an in-sync replica: ${info}`);
      await sleep(100);
    }
  };

  await waitOk();
  return { nodes, seeds: ports.map((p) => `127.0.0.1:${p}`).join(','), dir, cli, keyslot, masterOf, replicaOf, restart, waitOk, failedOver, stop };
}

function readLog(n: ClusterNode): string {
  try {
    return readFileSync(join(n.dir, 'redis.log'), 'utf8').slice(-2000);
  } catch {
    return '';
  }
}

// --- delivering many messages over reused connections, retrying temporary failures ---

export interface Outgoing {
  from: string;
  to: string;
  message: string;
}

export interface Delivery {
  /** Every reply to the final dot (or to an earlier command that refused), in order. */
  replies: Reply[];
  /** The 250's report id. */
  id: string | null;
  /** When the 250 came, ms since the epoch. */
  acceptedAt: number;
}

/**
 * Sends every message over `concurrency` reused connections, as an MTA would: a 4xx (or
 * a dropped connection) is retried on a fresh connection after `retryMs` until a 250 or
 * `deadlineMs`; a 5xx fails the message. `onAccepted` runs after each 250.
 */
export async function deliverAll(
  port: number,
  items: Outgoing[],
  opts: { concurrency: number; retryMs?: number; deadlineMs?: number; onAccepted?: (done: number) => void },
): Promise<Delivery[]> {
  const out: Delivery[] = items.map(() => ({ replies: [], id: null, acceptedAt: 0 }));
  const until = Date.now() + (opts.deadlineMs ?? 60_000);
  let next = 0;
  let done = 0;
  const worker = async () => {
    let c: SmtpClient | null = null;
    try {
      for (;;) {
        const i = next++;
        if (i >= items.length) return;
        for (;;) {
          if (Date.now() > until) throw new Error(`message ${i} not accepted before the deadline: ${JSON.stringify(out[i].replies)}`);
          let r: Reply;
          try {
            c ??= await SmtpClient.connect(port);
            r = await c.send(items[i].from, [items[i].to], items[i].message);
          } catch (err) {
            r = { code: 0, text: (err as Error).message };
          }
          out[i].replies.push(r);
          if (r.code === 250) {
            out[i].id = /<([^>]+)>/.exec(r.text)?.[1] ?? null;
            out[i].acceptedAt = Date.now();
            opts.onAccepted?.(++done);
            break;
          }
          if (r.code >= 500) throw new Error(`message ${i} refused: ${r.code} ${r.text}`);
          // 4xx or a lost connection: a fresh connection, a moment later, as an MTA's queue would.
          c?.destroy();
          c = null;
          await sleep(opts.retryMs ?? 200);
        }
      }
    } finally {
      if (c) await c.quit().catch(() => {});
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, worker));
  return out;
}
