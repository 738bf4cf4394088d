/** A real redis-server per test file, on a unix socket in a temporary folder. */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { alive, startLocalRedis, type LocalRedis } from '../../src/store/local.js';

export interface TestRedis {
  url: string;
  dir: string;
  stop(): Promise<void>;
  /** SIGKILL: no shutdown, no final fsync — what a crash or an OOM kill does. */
  kill(): Promise<void>;
  /** Starts it again on the same socket, with the same data. */
  start(): Promise<void>;
}

export async function testRedis(t: { teardown(fn: () => unknown): void }, opts: { appendfsync?: string } = {}): Promise<TestRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'ag-redis-'));
  const appendfsync = opts.appendfsync ?? 'no';
  let server: LocalRedis | null = await startLocalRedis({ dir, appendfsync });
  const r: TestRedis = {
    url: server.url,
    dir,
    async stop() {
      await server?.stop();
      server = null;
    },
    async kill() {
      const pid = Number(readFileSync(join(dir, 'redis.pid'), 'utf8'));
      process.kill(pid, 'SIGKILL');
      while (alive(pid)) await new Promise((r) => setTimeout(r, 10));
      server = null;
    },
    async start() {
      server = await startLocalRedis({ dir, appendfsync });
    },
  };
  t.teardown(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  return r;
}

export interface ReplicatedRedis {
  /** The primary: redis://127.0.0.1:<port>. */
  url: string;
  port: number;
  replicaPort: number;
  /** SIGSTOP / SIGCONT the replica: it keeps its link but acknowledges nothing meanwhile. */
  pauseReplica(): void;
  resumeReplica(): void;
  /** SIGKILL the replica; startReplica() brings it back and waits until it is in sync. */
  killReplica(): Promise<void>;
  startReplica(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => done(port));
    });
  });
}

/**
 * A primary and one replica (two redis-server processes on loopback ports, each its own
 * folder): for WAIT. TCP, because a replica reaches its primary over TCP only.
 */
export async function replicatedRedis(t: { teardown(fn: () => unknown): void }): Promise<ReplicatedRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'ag-repl-'));
  const [port, replicaPort] = [await freePort(), await freePort()];
  const spawnNode = (p: number, extra: string[]) => {
    const ndir = join(dir, String(p));
    mkdirSync(ndir, { recursive: true });
    const proc = spawn('redis-server', ['--port', String(p), '--bind', '127.0.0.1', '--dir', ndir, '--save', '', '--appendonly', 'yes', '--appendfsync', 'no', ...extra], { stdio: 'ignore' });
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    return { proc, exited };
  };
  const info = (p: number, section: string): string => spawnSync('redis-cli', ['-p', String(p), 'INFO', section], { encoding: 'utf8' }).stdout ?? '';
  const until = async (what: string, ok: () => boolean) => {
    const deadline = Date.now() + 15_000;
    while (!ok()) {
      if (Date.now() > deadline) throw new Error(`redis pair: ${what} not reached`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const primary = spawnNode(port, []);
  await until('primary up', () => /role:master/.test(info(port, 'replication')));
  let replica: ReturnType<typeof spawnNode> | null = null;
  const startReplica = async () => {
    replica = spawnNode(replicaPort, ['--replicaof', '127.0.0.1', String(port)]);
    await until('replica in sync', () => /master_link_status:up/.test(info(replicaPort, 'replication')) && /connected_slaves:1/.test(info(port, 'replication')));
  };
  const killReplica = async () => {
    const r = replica;
    replica = null;
    if (!r) return;
    r.proc.kill('SIGCONT');
    r.proc.kill('SIGKILL');
    await r.exited;
  };
  await startReplica();
  t.teardown(async () => {
    await killReplica();
    primary.proc.kill('SIGKILL');
    await primary.exited;
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    replicaPort,
    pauseReplica: () => void replica?.proc.kill('SIGSTOP'),
    resumeReplica: () => void replica?.proc.kill('SIGCONT'),
    killReplica,
    startReplica,
  };
}
