/** A real redis-server per test file, on a unix socket in a temporary folder. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocalRedis, type LocalRedis } from '../../src/store/local.js';

export interface TestRedis {
  url: string;
  dir: string;
  stop(): Promise<void>;
  /** Starts it again on the same socket, with the same data. */
  start(): Promise<void>;
}

export async function testRedis(t: { teardown(fn: () => unknown): void }): Promise<TestRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'ag-redis-'));
  let server: LocalRedis | null = await startLocalRedis({ dir, appendfsync: 'no' });
  const r: TestRedis = {
    url: server.url,
    dir,
    async stop() {
      await server?.stop();
      server = null;
    },
    async start() {
      server = await startLocalRedis({ dir, appendfsync: 'no' });
    },
  };
  t.teardown(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  return r;
}
