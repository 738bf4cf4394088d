/** A real redis-server per test file, on a unix socket in a temporary folder. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
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
