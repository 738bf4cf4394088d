/**
 * A private redis-server for `npm start` without REDIS_URL: a child process on a unix
 * socket (no port to collide with), append-only file under var/redis, stopped with us.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { resolve } from 'node:path';

export class LocalRedisError extends Error {
  readonly code = 'LOCAL_REDIS';
}

export interface LocalRedis {
  url: string;
  stop(): Promise<void>;
}

export interface LocalRedisOptions {
  dir: string;
  appendfsync: string;
  bin?: string;
  startTimeoutMs?: number;
}

function findBinary(bin: string): string | null {
  const r = spawnSync(bin, ['--version'], { stdio: 'ignore' });
  return r.error ? null : bin;
}

/** Whether a process with this pid exists (signal 0 tests without sending). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function canConnect(path: string): Promise<boolean> {
  return new Promise((done) => {
    const s = connect({ path });
    s.once('connect', () => {
      s.destroy();
      done(true);
    });
    s.once('error', () => done(false));
  });
}

export async function startLocalRedis(opts: LocalRedisOptions): Promise<LocalRedis> {
  const bin = findBinary(opts.bin ?? 'redis-server');
  if (!bin) {
    throw new LocalRedisError(
      'redis-server is not installed: run `apt-get install redis-server` (npm start does this when it can), or set REDIS_URL',
    );
  }
  const dir = resolve(opts.dir);
  mkdirSync(dir, { recursive: true });
  const sock = resolve(dir, 'redis.sock');
  const pidFile = resolve(dir, 'redis.pid');
  // A gateway killed with SIGKILL leaves its Redis behind; stop it before starting anew.
  if (existsSync(pidFile)) {
    const pid = Number(readFileSync(pidFile, 'utf8'));
    if (pid > 0 && alive(pid)) {
      process.kill(pid, 'SIGTERM');
      const deadline = Date.now() + 10_000;
      while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    }
    rmSync(pidFile, { force: true });
  }
  rmSync(sock, { force: true });
  const args = [
    '--port', '0',
    '--unixsocket', sock,
    '--unixsocketperm', '700',
    '--dir', dir,
    '--appendonly', 'yes',
    '--appendfsync', opts.appendfsync,
    '--save', '',
    '--daemonize', 'no',
    '--loglevel', 'warning',
  ];
  const child: ChildProcess = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'], detached: false });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  writeFileSync(pidFile, String(child.pid));
  const deadline = Date.now() + (opts.startTimeoutMs ?? 15_000);
  for (;;) {
    if (child.exitCode !== null) throw new LocalRedisError(`redis-server exited at start: ${stderr.trim().split('\n').pop() ?? ''}`);
    if (await canConnect(sock)) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new LocalRedisError('redis-server did not come up within the start timeout');
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return {
    url: sock,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(pidFile, { force: true });
    },
  };
}
