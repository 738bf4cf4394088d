/**
 * A private redis-server for `npm start` without REDIS_URL: a child process on a unix
 * socket (no port to collide with), append-only file under var/redis, stopped with us.
 *
 * Supervised: when it exits on its own (killed, out of memory, an AOF write that failed on
 * a full disk) the exit is logged with the last lines it wrote, and it is started again
 * with a doubling back-off. The restart replays the AOF; a tail cut short by the crash is
 * dropped rather than refused (`aof-load-truncated yes`): what it held was never
 * acknowledged, because a 250 waits for the fsync (`appendfsync always`).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { resolve } from 'node:path';
import type { Logger } from '../log.js';
import { localRedisRestarts } from '../metrics.js';

export class LocalRedisError extends Error {
  readonly code = 'LOCAL_REDIS';
}

export interface LocalRedis {
  url: string;
  /** The data directory (AOF, socket, pid file). */
  dir: string;
  /** null while redis-server runs; otherwise why it does not (for /readyz). */
  readonly down: string | null;
  stop(): Promise<void>;
}

export interface SuperviseOptions {
  log: Logger;
  /** First wait before a restart, doubled after each failed one (ms). */
  backoffMs: number;
  /** The longest wait between restarts (ms). */
  maxBackoffMs: number;
}

export interface LocalRedisOptions {
  dir: string;
  appendfsync: string;
  bin?: string;
  startTimeoutMs?: number;
  /** Restart it when it exits on its own (the gateway's Redis; a test's Redis is not). */
  supervise?: SuperviseOptions;
}

/** A run that lasted this long was healthy: the next restart waits only `backoffMs` again. */
const STABLE_MS = 60_000;
/** Lines of its output kept to explain an exit. */
const TAIL_LINES = 8;

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

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The last `TAIL_LINES` lines written to a stream, without keeping all of it. */
class Tail {
  private text = '';
  push(d: Buffer): void {
    this.text = (this.text + d.toString()).slice(-8192);
  }
  lines(): string[] {
    return this.text.trim().split('\n').slice(-TAIL_LINES).map((l) => l.trim()).filter(Boolean);
  }
}

interface Running {
  child: ChildProcess;
  startedAt: number;
  tail: Tail;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts redis-server and waits until its socket answers; throws LocalRedisError if it does not. */
async function launch(bin: string, args: string[], sock: string, pidFile: string, timeoutMs: number): Promise<Running> {
  rmSync(sock, { force: true });
  // redis-server logs to stdout (logfile ""); its own fatal errors go to stderr: keep both.
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: false });
  const tail = new Tail();
  child.stdout?.on('data', (d: Buffer) => tail.push(d));
  child.stderr?.on('data', (d: Buffer) => tail.push(d));
  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.once('exit', (code, signal) => {
      done = true;
      r({ code, signal });
    }),
  );
  // The gateway ending any other way than by stop() (a start that failed after this, an
  // uncaught error, process.exit) must not leave its Redis running: 'exit' listeners run on
  // all of those. SIGKILL runs none; the pid file covers it at the next start.
  const orphaned = () => {
    if (!done) child.kill('SIGTERM');
  };
  process.once('exit', orphaned);
  void exited.then(() => process.removeListener('exit', orphaned));
  try {
    writeFileSync(pidFile, String(child.pid));
  } catch {
    // A full disk: the pid file only helps clean up after a SIGKILLed gateway.
  }
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (done) {
      const { code, signal } = await exited;
      throw new LocalRedisError(`redis-server exited at start (${code ?? signal}): ${tail.lines().pop() ?? ''}`);
    }
    if (await canConnect(sock)) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      await exited;
      throw new LocalRedisError('redis-server did not come up within the start timeout');
    }
    await sleep(25);
  }
  return { child, startedAt: Date.now(), tail, exited };
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
      while (alive(pid) && Date.now() < deadline) await sleep(50);
    }
    rmSync(pidFile, { force: true });
  }
  const args = [
    '--port', '0',
    '--unixsocket', sock,
    '--unixsocketperm', '700',
    '--dir', dir,
    '--appendonly', 'yes',
    '--appendfsync', opts.appendfsync,
    // A crash mid-write leaves a partial last command: load what precedes it.
    '--aof-load-truncated', 'yes',
    '--save', '',
    '--daemonize', 'no',
    '--loglevel', 'warning',
  ];
  const timeoutMs = opts.startTimeoutMs ?? 15_000;
  let current: Running | null = await launch(bin, args, sock, pidFile, timeoutMs);
  let down: string | null = null;
  let stopping = false;
  let timer: NodeJS.Timeout | null = null;
  let delay = opts.supervise?.backoffMs ?? 0;

  const watch = (run: Running, sup: SuperviseOptions) => {
    void run.exited.then(({ code, signal }) => {
      if (stopping) return;
      current = null;
      if (Date.now() - run.startedAt >= STABLE_MS) delay = sup.backoffMs;
      down = `embedded redis-server exited (${signal ?? `code ${code}`}); restarting`;
      sup.log.error(
        { code: 'LOCAL_REDIS_EXITED', exitCode: code, signal, stderr: run.tail.lines(), restartInMs: delay },
        'embedded redis-server exited; restarting it',
      );
      schedule(sup);
    });
  };
  const schedule = (sup: SuperviseOptions) => {
    timer = setTimeout(async () => {
      timer = null;
      if (stopping) return;
      try {
        const run = await launch(bin, args, sock, pidFile, timeoutMs);
        if (stopping) {
          run.child.kill('SIGTERM');
          return;
        }
        current = run;
        down = null;
        localRedisRestarts.inc();
        sup.log.warn({ code: 'LOCAL_REDIS_RESTARTED', afterMs: delay }, 'embedded redis-server restarted; AOF replayed');
        delay = Math.min(delay * 2, sup.maxBackoffMs);
        watch(run, sup);
      } catch (err) {
        delay = Math.min(delay * 2, sup.maxBackoffMs);
        down = `embedded redis-server does not start: ${(err as Error).message}`;
        sup.log.error({ code: 'LOCAL_REDIS_RESTART_FAILED', err: (err as Error).message, restartInMs: delay }, 'embedded redis-server did not restart');
        schedule(sup);
      }
    }, delay);
  };
  if (opts.supervise) watch(current, opts.supervise);

  return {
    url: sock,
    dir,
    get down() {
      return down;
    },
    async stop() {
      stopping = true;
      if (timer) clearTimeout(timer);
      const run = current;
      if (run && run.child.exitCode === null && run.child.signalCode === null) {
        run.child.kill('SIGTERM');
        const kill = setTimeout(() => run.child.kill('SIGKILL'), 10_000);
        await run.exited;
        clearTimeout(kill);
      }
      rmSync(pidFile, { force: true });
    },
  };
}
